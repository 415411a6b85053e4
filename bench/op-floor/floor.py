# The same loop in PyTorch (Debian python3-torch, the same libtorch_cpu.so).
import json, sys, time
import torch
repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 30
torch.set_num_threads(1)
torch.manual_seed(0)
b = torch.rand(16)
ms, checksum = [], 0.0
for _ in range(repeats):
    c = torch.rand(16)
    t0 = time.perf_counter()
    for _ in range(10000):
        c = c.add(b).mul(0.5)
    ms.append((time.perf_counter() - t0) * 1e3)
    checksum += c.sum().item()
print(json.dumps({"side": "python", "ms": ms, "checksum": checksum}))
