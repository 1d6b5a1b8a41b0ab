// Host emulation of the CUDA built-ins the generated kernels use, so the same CUDA C text runs
// on a CPU (compiled by g++). Each thread of a block is a fiber (ucontext) on one OS thread;
// __syncthreads and warp shuffles yield to a scheduler that releases a barrier once every live
// thread of the block (or warp) waits on it. A barrier some threads can never reach is reported
// as divergence instead of hanging. Blocks run one after another, so `__shared__` maps to
// function-level `static` storage.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include <ucontext.h>
#include <math.h>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __constant__ static

struct uint3 { unsigned x, y, z; };
struct dim3 {
    unsigned x, y, z;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct __align__(16) float4 { float x, y, z, w; };
struct __align__(8) float2 { float x, y; };

namespace gf_emu {
enum State { RUNNABLE, WAIT_BLOCK, WAIT_WARP, DONE };
struct Fiber {
    ucontext_t ctx;
    State state;
    uint3 tid;
    int warp, lane;
};
inline std::vector<Fiber>& fibers() { static std::vector<Fiber> f; return f; }
inline std::vector<char>& stacks() { static std::vector<char> s; return s; }
inline ucontext_t& sched() { static ucontext_t c; return c; }
inline Fiber*& cur() { static Fiber* f = nullptr; return f; }
typedef void (*Thunk)(void**);
inline Thunk& body() { static Thunk b = nullptr; return b; }
inline void**& body_args() { static void** a = nullptr; return a; }
inline unsigned long long& shuffles() { static unsigned long long n = 0; return n; }
// warp exchange slots, double-buffered by shuffle generation (one barrier per shuffle is then enough)
struct Slot { unsigned char bytes[16]; };
inline std::vector<Slot>& slots() { static std::vector<Slot> s; return s; }
inline std::vector<unsigned>& warp_gen() { static std::vector<unsigned> g; return g; }
const size_t kStack = 64 * 1024;
}  // namespace gf_emu

static uint3 threadIdx, blockIdx;
static dim3 blockDim, gridDim;

namespace gf_emu {
inline void yield(State s) {
    Fiber* f = cur();
    f->state = s;
    swapcontext(&f->ctx, &sched());
    threadIdx = f->tid;
}
inline void entry() {
    body()(body_args());
    cur()->state = DONE;
    swapcontext(&cur()->ctx, &sched());
}

// Runs one kernel launch: every block in turn, each block's threads as fibers.
// Returns 0, or 1 when the threads of a block wait on barriers that can never all be reached.
inline int launch(dim3 grid, dim3 block, Thunk fn, void** args) {
    const unsigned nthreads = block.x * block.y * block.z;
    if (nthreads == 0 || nthreads > 1024) { fprintf(stderr, "gf_emu: bad block size %u\n", nthreads); return 2; }
    gridDim = grid;
    blockDim = block;
    body() = fn;
    body_args() = args;
    auto& fs = fibers();
    fs.assign(nthreads, Fiber());
    if (stacks().size() < nthreads * kStack) stacks().resize(nthreads * kStack);
    const unsigned nwarps = (nthreads + 31) / 32;
    slots().assign(nwarps * 64, Slot());
    warp_gen().assign(nwarps, 0);
    for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
    for (unsigned bx = 0; bx < grid.x; ++bx) {
        blockIdx = uint3{bx, by, bz};
        for (unsigned t = 0; t < nthreads; ++t) {
            Fiber& f = fs[t];
            f.tid = uint3{t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
            f.warp = t / 32;
            f.lane = t % 32;
            f.state = RUNNABLE;
            getcontext(&f.ctx);
            f.ctx.uc_stack.ss_sp = stacks().data() + t * kStack;
            f.ctx.uc_stack.ss_size = kStack;
            f.ctx.uc_link = nullptr;
            makecontext(&f.ctx, entry, 0);
        }
        for (unsigned w = 0; w < nwarps; ++w) warp_gen()[w] = 0;
        for (;;) {
            for (unsigned t = 0; t < nthreads; ++t) {
                Fiber& f = fs[t];
                if (f.state != RUNNABLE) continue;
                cur() = &f;
                threadIdx = f.tid;
                swapcontext(&sched(), &f.ctx);
            }
            unsigned live = 0, at_block = 0;
            for (auto& f : fs) { if (f.state != DONE) ++live; if (f.state == WAIT_BLOCK) ++at_block; }
            if (live == 0) break;
            bool released = false;
            for (unsigned w = 0; w < nwarps; ++w) {
                unsigned lo = w * 32, hi = lo + 32 < nthreads ? lo + 32 : nthreads, wl = 0, ww = 0;
                for (unsigned t = lo; t < hi; ++t) {
                    if (fs[t].state != DONE) ++wl;
                    if (fs[t].state == WAIT_WARP) ++ww;
                }
                if (wl && ww == wl) {
                    for (unsigned t = lo; t < hi; ++t) if (fs[t].state == WAIT_WARP) fs[t].state = RUNNABLE;
                    released = true;
                }
            }
            if (!released && at_block == live) {
                for (auto& f : fs) if (f.state == WAIT_BLOCK) f.state = RUNNABLE;
                released = true;
            }
            if (!released) {
                fprintf(stderr, "gf_emu: barrier divergence in block (%u,%u,%u): %u live threads, %u at __syncthreads\n",
                        bx, by, bz, live, at_block);
                return 1;
            }
        }
    }
    return 0;
}

template <typename T>
inline T exchange(T v, int src_lane, bool keep_own) {
    static_assert(sizeof(T) <= 16, "shuffle of a type wider than 16 bytes");
    Fiber* f = cur();
    unsigned gen = warp_gen()[f->warp];
    Slot* base = &slots()[f->warp * 64 + (gen & 1) * 32];
    memcpy(base[f->lane].bytes, &v, sizeof(T));
    yield(WAIT_WARP);
    // every live lane has written this generation; the first lane through advances it
    if (warp_gen()[f->warp] == gen) warp_gen()[f->warp] = gen + 1;
    ++shuffles();
    if (keep_own) return v;
    T out;
    memcpy(&out, base[src_lane].bytes, sizeof(T));
    return out;
}
}  // namespace gf_emu

inline void __syncthreads() { gf_emu::yield(gf_emu::WAIT_BLOCK); }
inline void __syncwarp(unsigned = 0xffffffffu) { gf_emu::yield(gf_emu::WAIT_WARP); }
inline void __threadfence() {}

template <typename T>
inline T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
    int lane = gf_emu::cur()->lane;
    int seg = lane & ~(width - 1);
    int src = lane + (int)delta;
    return gf_emu::exchange(v, src, src >= seg + width);
}
template <typename T>
inline T __shfl_xor_sync(unsigned, T v, int mask, int width = 32) {
    int lane = gf_emu::cur()->lane;
    int seg = lane & ~(width - 1);
    int src = lane ^ mask;
    return gf_emu::exchange(v, src, src < seg || src >= seg + width);
}
template <typename T>
inline T __shfl_sync(unsigned, T v, int src, int width = 32) {
    int lane = gf_emu::cur()->lane;
    int seg = lane & ~(width - 1);
    return gf_emu::exchange(v, seg + (src & (width - 1)), false);
}

// ---- atomics: one OS thread runs every fiber, so a read-modify-write is atomic ----
template <typename T> inline T atomicAdd(T* p, T v) { T old = *p; *p = old + v; return old; }
template <typename T> inline T atomicExch(T* p, T v) { T old = *p; *p = v; return old; }
template <typename T> inline T atomicCAS(T* p, T cmp, T v) { T old = *p; if (old == cmp) *p = v; return old; }
template <typename T> inline T atomicMax(T* p, T v) { T old = *p; if (v > old) *p = v; return old; }

// ---- math that CUDA has and C++ lacks ----
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __int_as_float(int i) { float f; memcpy(&f, &i, 4); return f; }
inline int __float_as_int(float f) { int i; memcpy(&i, &f, 4); return i; }
inline long long __double_as_longlong(double d) { long long i; memcpy(&i, &d, 8); return i; }
inline double __longlong_as_double(long long i) { double d; memcpy(&d, &i, 8); return d; }

// ---- float16 / bfloat16 as 16-bit storage with exact round-to-nearest-even conversions ----
struct __half { unsigned short x; };
struct __nv_bfloat16 { unsigned short x; };
typedef __half half;

inline float __half2float(__half h) {
    unsigned s = (h.x >> 15) & 1, e = (h.x >> 10) & 0x1f, m = h.x & 0x3ff;
    float v;
    if (e == 0) v = ldexpf((float)m, -24);
    else if (e == 31) v = m ? NAN : INFINITY;
    else v = ldexpf((float)(m | 0x400), (int)e - 25);
    return s ? -v : v;
}
inline __half gf_emu_double2half(double d) {
    __half h;
    unsigned short sign = std::signbit(d) ? 0x8000 : 0;
    double a = fabs(d);
    if (std::isnan(d)) { h.x = sign | 0x7e00; return h; }
    if (a >= 65520.0) { h.x = sign | 0x7c00; return h; }  // rounds to infinity
    if (a < ldexp(1.0, -14)) {  // subnormal: multiples of 2^-24, round half to even
        double q = nearbyint(a * ldexp(1.0, 24));
        h.x = sign | (unsigned short)q;
        return h;
    }
    int exp;
    frexp(a, &exp);  // a = f * 2^exp, f in [0.5, 1)
    double scaled = ldexp(a, 11 - exp);  // 11 significant bits in [1024, 2048)
    double q = nearbyint(scaled);
    if (q >= 2048.0) { q /= 2; exp += 1; }
    int e = exp - 1 + 15;
    if (e >= 31) { h.x = sign | 0x7c00; return h; }
    h.x = sign | (unsigned short)(e << 10) | ((unsigned short)q & 0x3ff);
    return h;
}
inline __half __float2half_rn(float f) { return gf_emu_double2half((double)f); }
inline __half __float2half(float f) { return gf_emu_double2half((double)f); }
inline __half __double2half(double d) { return gf_emu_double2half(d); }
inline float __bfloat162float(__nv_bfloat16 b) {
    unsigned u = (unsigned)b.x << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
    unsigned u;
    memcpy(&u, &f, 4);
    __nv_bfloat16 b;
    if ((u & 0x7fffffffu) > 0x7f800000u) { b.x = (unsigned short)((u >> 16) | 0x40); return b; }
    u += 0x7fffu + ((u >> 16) & 1u);
    b.x = (unsigned short)(u >> 16);
    return b;
}
inline __nv_bfloat16 __float2bfloat16(float f) { return __float2bfloat16_rn(f); }
inline __nv_bfloat16 __double2bfloat16(double d) { return __float2bfloat16_rn((float)d); }
inline __half atomicAdd(__half* p, __half v) {
    __half old = *p; *p = __float2half_rn(__half2float(old) + __half2float(v)); return old;
}
inline __nv_bfloat16 atomicAdd(__nv_bfloat16* p, __nv_bfloat16 v) {
    __nv_bfloat16 old = *p; *p = __float2bfloat16_rn(__bfloat162float(old) + __bfloat162float(v)); return old;
}

// ---- WMMA: each emulated thread holds the whole 16x16 tile (the warp's collective result) ----
namespace nvcuda { namespace wmma {
struct matrix_a {}; struct matrix_b {}; struct accumulator {};
struct row_major {}; struct col_major {};
enum layout_t { mem_row_major, mem_col_major };
inline float gf_to_float(__half h) { return __half2float(h); }
inline float gf_to_float(__nv_bfloat16 h) { return __bfloat162float(h); }
inline float gf_to_float(float f) { return f; }
template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment { float x[(M > N ? M : N) * (K > N ? K : N)]; static const int num_elements = 256; };
template <typename Use, int M, int N, int K, typename T, typename L, typename V>
inline void fill_fragment(fragment<Use, M, N, K, T, L>& f, V v) { for (auto& e : f.x) e = (float)v; }
template <int M, int N, int K, typename T, typename P>
inline void load_matrix_sync(fragment<matrix_a, M, N, K, T, row_major>& f, const P* p, unsigned ldm) {
    for (int r = 0; r < M; ++r) for (int c = 0; c < K; ++c) f.x[r * K + c] = gf_to_float(p[r * ldm + c]);
}
template <int M, int N, int K, typename T, typename P>
inline void load_matrix_sync(fragment<matrix_b, M, N, K, T, row_major>& f, const P* p, unsigned ldm) {
    for (int r = 0; r < K; ++r) for (int c = 0; c < N; ++c) f.x[r * N + c] = gf_to_float(p[r * ldm + c]);
}
template <int M, int N, int K, typename TA, typename TB, typename TC>
inline void mma_sync(fragment<accumulator, M, N, K, TC>& d, const fragment<matrix_a, M, N, K, TA, row_major>& a,
                     const fragment<matrix_b, M, N, K, TB, row_major>& b, const fragment<accumulator, M, N, K, TC>& c) {
    float out[M * N];
    for (int i = 0; i < M; ++i) for (int j = 0; j < N; ++j) {
        float s = c.x[i * N + j];
        for (int k = 0; k < K; ++k) s += a.x[i * K + k] * b.x[k * N + j];
        out[i * N + j] = s;
    }
    for (int i = 0; i < M * N; ++i) d.x[i] = out[i];
}
template <int M, int N, int K, typename T>
inline void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, T>& f, unsigned ldm, layout_t) {
    for (int r = 0; r < M; ++r) for (int c = 0; c < N; ++c) p[r * ldm + c] = f.x[r * N + c];
}
}}  // namespace nvcuda::wmma
