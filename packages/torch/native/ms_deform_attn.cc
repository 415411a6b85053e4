// Multi-scale deformable attention as one fused CPU operator with its own backward, the way
// Deformable DETR ships ms_deform_attn as a kernel instead of grid_sample + a weighted sum
// (grid_sample's backward scatters through generic machinery and dominated our SSE step).
//
//   value     [B, S, H, D]        S = sum of H_l * W_l over levels, levels flattened row-major
//   shapes    [[H_l, W_l]]        per level; level_start derived from them
//   locations [B, Q, H, L, P, 2]  (x, y) in [0, 1] over each level (pixel centres at (i + 0.5) / W)
//   weights   [B, Q, H, L, P]
//   -> out    [B, Q, H * D]
// Bilinear sampling with zero padding, exactly grid_sample(align_corners=false, padding zeros).
// Forward parallelises over (batch, query); backward over (batch, head), whose value gradients
// are disjoint, so no atomics are needed, and every element is summed in the same order for any
// thread count. Float and double. at::parallel_for is OpenMP inlined from ATen's headers: the
// addon must be compiled with -fopenmp (binding.gyp), or it silently runs on one thread.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <napi.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#include <vector>

#include "errors.h"
#include "handles.h"

namespace tgt {
namespace {

struct Corner {
  int64_t index;  // into the level's H*W, or -1 when outside
  double weight;
};

// Where point i of a level (h x w) samples: its four bilinear corners and the fractional
// position (lx, ly) inside the cell, which the backward needs for the location gradient.
template <typename T>
struct Sample {
  Corner corner[4];
  T lx, ly;
};

template <typename T>
inline Sample<T> sampleAt(const T* loc, int64_t i, int64_t h, int64_t w) {
  // Normalised (x, y) to pixel coordinates, pixel centres at integers (align_corners=false).
  const T x = loc[2 * i] * w - T(0.5), y = loc[2 * i + 1] * h - T(0.5);
  const T fx = std::floor(x), fy = std::floor(y);
  const int64_t x0 = static_cast<int64_t>(fx), y0 = static_cast<int64_t>(fy);
  Sample<T> s;
  s.lx = x - fx;
  s.ly = y - fy;
  const int64_t xs[4] = {x0, x0 + 1, x0, x0 + 1};
  const int64_t ys[4] = {y0, y0, y0 + 1, y0 + 1};
  const double ws[4] = {(1 - s.lx) * (1 - s.ly), s.lx * (1 - s.ly), (1 - s.lx) * s.ly, s.lx * s.ly};
  for (int k = 0; k < 4; k++) {
    const bool inside = xs[k] >= 0 && xs[k] < w && ys[k] >= 0 && ys[k] < h;
    s.corner[k] = {inside ? ys[k] * w + xs[k] : -1, ws[k]};
  }
  return s;
}

struct Geometry {
  int64_t B, S, H, D, Q, L, P;
  std::vector<int64_t> hs, ws, start;
};

Geometry geometry(const at::Tensor& value, const std::vector<int64_t>& shapes, const at::Tensor& loc, const at::Tensor& attn) {
  TORCH_CHECK(value.dim() == 4, "value must be [B, S, heads, D], got ", value.sizes());
  TORCH_CHECK(loc.dim() == 6 && loc.size(5) == 2, "locations must be [B, Q, heads, levels, points, 2], got ", loc.sizes());
  TORCH_CHECK(attn.dim() == 5, "weights must be [B, Q, heads, levels, points], got ", attn.sizes());
  Geometry g{value.size(0), value.size(1), value.size(2), value.size(3), loc.size(1), loc.size(3), loc.size(4), {}, {}, {}};
  TORCH_CHECK(static_cast<int64_t>(shapes.size()) == 2 * g.L, "shapes must hold [H, W] for each of the ", g.L, " levels");
  int64_t total = 0;
  for (int64_t l = 0; l < g.L; l++) {
    g.hs.push_back(shapes[2 * l]);
    g.ws.push_back(shapes[2 * l + 1]);
    g.start.push_back(total);
    total += shapes[2 * l] * shapes[2 * l + 1];
  }
  TORCH_CHECK(total == g.S, "the levels' H*W sum to ", total, " but value has ", g.S, " positions");
  TORCH_CHECK(loc.size(0) == g.B && loc.size(2) == g.H && attn.size(0) == g.B && attn.size(1) == g.Q && attn.size(2) == g.H &&
                  attn.size(3) == g.L && attn.size(4) == g.P,
              "value, locations and weights disagree on batch, queries, heads, levels or points");
  TORCH_CHECK(value.scalar_type() == loc.scalar_type() && value.scalar_type() == attn.scalar_type(), "value, locations and weights must share a dtype");
  TORCH_CHECK(value.device().is_cpu(), "ms_deform_attn runs on the CPU (use the grid_sample path on CUDA)");
  return g;
}

// The kernels copy the geometry into locals inside the parallel body: OpenMP outlines it into
// its own function, where members read through a reference are reloaded on every iteration.
template <typename T>
void forwardKernel(const Geometry& g, const T* value, const T* loc, const T* attn, T* out) {
  at::parallel_for(0, g.B * g.Q, 1, [&](int64_t begin, int64_t end) {
    const int64_t Q = g.Q, H = g.H, D = g.D, L = g.L, P = g.P, S = g.S;
    for (int64_t bq = begin; bq < end; bq++) {
      const int64_t b = bq / Q;
      for (int64_t h = 0; h < H; h++) {
        T* __restrict o = out + (bq * H + h) * D;
        for (int64_t d = 0; d < D; d++) o[d] = 0;
        for (int64_t l = 0; l < L; l++) {
          const int64_t lh = g.hs[l], lw = g.ws[l];
          const T* v = value + ((b * S + g.start[l]) * H + h) * D;
          for (int64_t p = 0; p < P; p++) {
            const int64_t i = (((bq * H + h) * L + l) * P + p);
            const T a = attn[i];
            const Sample<T> sample = sampleAt(loc, i, lh, lw);
            const Corner* c = sample.corner;
            for (int k = 0; k < 4; k++) {
              if (c[k].index < 0) continue;
              const T wk = static_cast<T>(c[k].weight) * a;
              const T* __restrict vk = v + c[k].index * H * D;
              for (int64_t d = 0; d < D; d++) o[d] += wk * vk[d];
            }
          }
        }
      }
    }
  });
}

template <typename T>
void backwardKernel(const Geometry& g, const T* value, const T* loc, const T* attn, const T* gout, T* gvalue, T* gloc, T* gattn) {
  at::parallel_for(0, g.B * g.H, 1, [&](int64_t begin, int64_t end) {
    const int64_t Q = g.Q, H = g.H, D = g.D, L = g.L, P = g.P, S = g.S;
    for (int64_t bh = begin; bh < end; bh++) {
      const int64_t b = bh / H, h = bh % H;
      for (int64_t q = 0; q < Q; q++) {
        const T* go = gout + ((b * Q + q) * H + h) * D;
        for (int64_t l = 0; l < L; l++) {
          const int64_t lh = g.hs[l], lw = g.ws[l];
          const int64_t base = (b * S + g.start[l]) * H + h;
          for (int64_t p = 0; p < P; p++) {
            const int64_t i = ((((b * Q + q) * H + h) * L + l) * P + p);
            const T a = attn[i];
            const Sample<T> sample = sampleAt(loc, i, lh, lw);
            const Corner* c = sample.corner;
            const T lx = sample.lx, ly = sample.ly;
            // d(bilinear weight)/d(lx), d/d(ly) per corner, in the order of sampleAt().
            const T dwx[4] = {-(1 - ly), 1 - ly, -ly, ly};
            const T dwy[4] = {-(1 - lx), -lx, 1 - lx, lx};
            T sampledDot = 0, gx = 0, gy = 0;
            for (int k = 0; k < 4; k++) {
              if (c[k].index < 0) continue;
              const T* vk = value + (base + c[k].index * H) * D;
              T* gvk = gvalue + (base + c[k].index * H) * D;
              const T wk = static_cast<T>(c[k].weight) * a;
              T dot = 0;
              for (int64_t d = 0; d < D; d++) {
                dot += go[d] * vk[d];
                gvk[d] += wk * go[d];
              }
              sampledDot += static_cast<T>(c[k].weight) * dot;
              gx += dwx[k] * dot;
              gy += dwy[k] * dot;
            }
            gattn[i] = sampledDot;
            // x = loc_x * W - 0.5, so dx/dloc_x = W.
            gloc[2 * i] = a * gx * lw;
            gloc[2 * i + 1] = a * gy * lh;
          }
        }
      }
    }
  });
}

class MsDeformAttnFn : public torch::autograd::Function<MsDeformAttnFn> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& value, std::vector<int64_t> shapes, const at::Tensor& loc,
                            const at::Tensor& attn) {
    const at::Tensor v = value.contiguous(), lo = loc.contiguous(), at_ = attn.contiguous();
    const Geometry g = geometry(v, shapes, lo, at_);
    at::Tensor out = at::empty({g.B, g.Q, g.H * g.D}, v.options());
    AT_DISPATCH_FLOATING_TYPES(v.scalar_type(), "ms_deform_attn", [&] {
      forwardKernel<scalar_t>(g, v.data_ptr<scalar_t>(), lo.data_ptr<scalar_t>(), at_.data_ptr<scalar_t>(), out.data_ptr<scalar_t>());
    });
    ctx->save_for_backward({v, lo, at_});
    ctx->saved_data["shapes"] = c10::IValue(shapes);
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &v = saved[0], &lo = saved[1], &at_ = saved[2];
    const std::vector<int64_t> shapes = ctx->saved_data["shapes"].toIntVector();
    const Geometry g = geometry(v, shapes, lo, at_);
    const at::Tensor gout = grads[0].contiguous();
    at::Tensor gv = at::zeros_like(v), gl = at::zeros_like(lo), ga = at::zeros_like(at_);
    AT_DISPATCH_FLOATING_TYPES(v.scalar_type(), "ms_deform_attn_backward", [&] {
      backwardKernel<scalar_t>(g, v.data_ptr<scalar_t>(), lo.data_ptr<scalar_t>(), at_.data_ptr<scalar_t>(), gout.data_ptr<scalar_t>(),
                               gv.data_ptr<scalar_t>(), gl.data_ptr<scalar_t>(), ga.data_ptr<scalar_t>());
    });
    return {gv, at::Tensor(), gl, ga};
  }
};

// msDeformAttn(valueId, shapes: number[] (H0, W0, H1, W1, ...), locationsId, weightsId) -> id
Napi::Value MsDeformAttn(const Napi::CallbackInfo& info) {
  return guarded(info, "ms_deform_attn", [&]() -> Napi::Value {
    const at::Tensor& value = tensorArg(info[0], "ms_deform_attn value");
    const Napi::Array arr = info[1].As<Napi::Array>();
    std::vector<int64_t> shapes(arr.Length());
    for (uint32_t i = 0; i < arr.Length(); i++) shapes[i] = arr.Get(i).As<Napi::Number>().Int64Value();
    const at::Tensor& loc = tensorArg(info[2], "ms_deform_attn locations");
    const at::Tensor& attn = tensorArg(info[3], "ms_deform_attn weights");
    return Napi::Number::New(info.Env(), handles().add(MsDeformAttnFn::apply(value, shapes, loc, attn)));
  });
}

}  // namespace

void registerMsDeformAttn(Napi::Env env, Napi::Object exports) {
  exports.Set("msDeformAttn", Napi::Function::New(env, MsDeformAttn, "msDeformAttn"));
}

}  // namespace tgt
