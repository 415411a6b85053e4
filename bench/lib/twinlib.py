"""Shared code for the PyTorch twins (bench/clip_twin.py, bench/model_twin.py).

- read_safetensors: a small reader of the safetensors format (8-byte little-endian header
  length, JSON header {name: {dtype, shape, data_offsets}}, raw little-endian bytes), so the
  twins load exactly the weights and inputs the TS side wrote.
- serve_or_run: the --serve protocol of bench/lib/runner.mjs (ready line after warm-up, then
  `run K` -> {"samples_ms": [...]}, until `quit`).
"""
import json
import resource
import struct
import sys
import time

import torch

_DTYPES = {
    "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}


def read_safetensors(path, with_metadata=False):
    """Returns {name: tensor} (each tensor owns its memory), and the metadata dict if asked."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0] if kv[0] != "__metadata__" else -1):
            if name == "__metadata__":
                continue
            begin, end = info["data_offsets"]
            f.seek(base + begin)
            buf = bytearray(f.read(end - begin))
            dtype = _DTYPES[info["dtype"]]
            t = torch.frombuffer(buf, dtype=dtype) if end > begin else torch.empty(0, dtype=dtype)
            out[name] = t.reshape(info["shape"]).clone()
        return (out, header.get("__metadata__", {})) if with_metadata else out


def time_steps(step, n):
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        step()
        samples.append((time.perf_counter() - t0) * 1e3)
    return samples


def serve_or_run(step, warmup, repeats, serve, info):
    for _ in range(warmup):
        step()
    if serve:
        print(json.dumps({"ready": True, **info}), flush=True)
        while True:
            line = sys.stdin.readline()
            if not line:
                break
            parts = line.split()
            if parts and parts[0] == "run":
                # Page faults and CPU time of the turn (all threads), for the runner's diagnostics.
                r0 = resource.getrusage(resource.RUSAGE_SELF)
                samples = time_steps(step, int(parts[1]))
                r1 = resource.getrusage(resource.RUSAGE_SELF)
                print(json.dumps({"samples_ms": samples,
                                  "faults": r1.ru_minflt - r0.ru_minflt + r1.ru_majflt - r0.ru_majflt,
                                  "user_ms": (r1.ru_utime - r0.ru_utime) * 1e3,
                                  "sys_ms": (r1.ru_stime - r0.ru_stime) * 1e3}), flush=True)
            elif parts and parts[0] == "quit":
                break
        print(json.dumps({"done": True}), flush=True)
        return
    print(json.dumps({**info, "samples_ms": time_steps(step, repeats)}), flush=True)


# ---- FLOP counting: 2 FLOPs per multiply-add of every matmul and convolution executed ----
def _prod(xs):
    n = 1
    for x in xs:
        n *= int(x)
    return n


def _conv_flops(x_shape, w_shape, out_shape, groups=1):
    # out numel x (Cin / groups) x kh x kw multiply-adds; w is [Cout, Cin/groups, kh, kw]
    return 2 * _prod(out_shape) * _prod(w_shape[1:])


def count_flops(fn):
    """Runs fn() under a dispatch mode that adds up matmul/conv FLOPs (forward and backward,
    as executed: aten.mm/addmm/bmm/baddbmm, convolution, convolution_backward, and the fused
    _native_multi_head_attention). Returns (result, {op: flops}). Composite ops (linear,
    matmul, conv2d) reach the mode decomposed into these."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_map

    counts = {}

    def add(name, n):
        counts[name] = counts.get(name, 0) + n

    aten = torch.ops.aten

    class Counter(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            pkt = func.overloadpacket
            if pkt is aten.mm:
                a, b = args[0], args[1]
                add("mm", 2 * a.shape[0] * a.shape[1] * b.shape[1])
            elif pkt is aten.addmm:
                a, b = args[1], args[2]
                add("mm", 2 * a.shape[0] * a.shape[1] * b.shape[1])
            elif pkt is aten.bmm:
                a, b = args[0], args[1]
                add("bmm", 2 * a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2])
            elif pkt is aten.baddbmm:
                a, b = args[1], args[2]
                add("bmm", 2 * a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2])
            elif pkt is aten.convolution:
                add("conv", _conv_flops(args[0].shape, args[1].shape, out.shape))
            elif pkt is aten.convolution_backward:
                grad_out, x, w = args[0], args[1], args[2]
                mask = args[-1]
                f = _conv_flops(x.shape, w.shape, grad_out.shape)
                add("conv_bwd", f * (int(bool(mask[0])) + int(bool(mask[1]))))
            elif pkt is aten._native_multi_head_attention:
                q, E = args[0], int(args[3])
                B, L = q.shape[0], q.shape[1]
                S = args[1].shape[1]
                add("mha_fused", 2 * B * L * E * 3 * E + 2 * 2 * B * L * S * E + 2 * B * L * E * E)
            elif pkt is aten.grid_sampler_2d:
                add("grid_sample_calls", 0)
            return out

    with Counter():
        r = fn()
    return r, counts
