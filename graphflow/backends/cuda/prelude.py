"""The CUDA C prelude every generated module starts with: headers and the device helpers the
lowering table's templates call. The same text compiles with nvcc and, over the emulation header,
with the host C++ compiler."""

PRELUDE = r"""
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <mma.h>

#define GF_FULL_MASK 0xffffffffu

__device__ __forceinline__ void gf_fail(int* err, int site) { atomicCAS(err, 0, site); }

// counter-based random numbers, bit-identical to graphflow/ir/ops/random.py
__device__ __forceinline__ unsigned long long gf_mix64(unsigned long long x) {
    x ^= x >> 30; x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27; x *= 0x94D049BB133111EBull;
    x ^= x >> 31; return x;
}
__device__ __forceinline__ unsigned long long gf_random_bits(long long key, long long i) {
    return gf_mix64(gf_mix64((unsigned long long)key) + ((unsigned long long)i + 1ull) * 0x9E3779B97F4A7C15ull);
}

__device__ __forceinline__ float gf_sigmoid(float x) {
    float e = expf(-fabsf(x));  // the two-branch form never overflows
    return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}
__device__ __forceinline__ double gf_sigmoid(double x) {
    double e = exp(-fabs(x));
    return x >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
}
// NaN-propagating max/min (NumPy's maximum/minimum)
template <typename T> __device__ __forceinline__ T gf_fmax(T a, T b) { return (a > b || a != a) ? a : b; }
template <typename T> __device__ __forceinline__ T gf_fmin(T a, T b) { return (a < b || a != a) ? a : b; }

// Python's floor division and modulo on floats (NumPy's npy_divmod)
template <typename T> __device__ __forceinline__ T gf_pymod(T a, T b) {
    if (b == (T)0) return fmod(a, b);
    T mod = fmod(a, b);
    if (mod != (T)0) { if ((b < (T)0) != (mod < (T)0)) mod += b; }
    else mod = copysign((T)0, b);
    return mod;
}
template <typename T> __device__ __forceinline__ T gf_floordiv(T a, T b) {
    if (b == (T)0) return a / b;
    T mod = fmod(a, b);
    T div = (a - mod) / b;
    if (mod != (T)0 && ((b < (T)0) != (mod < (T)0))) div -= (T)1;
    if (div == (T)0) return copysign((T)0, a / b);
    T fl = floor(div);
    if (div - fl > (T)0.5) fl += (T)1;
    return fl;
}
// integer floor division and modulo; division by zero is reported through the error flag
template <typename T> __device__ __forceinline__ T gf_ifloordiv(T a, T b, int* err, int site) {
    if (b == 0) { gf_fail(err, site); return 0; }
    long long q = (long long)a / (long long)b, r = (long long)a % (long long)b;
    if (r != 0 && ((r < 0) != ((long long)b < 0))) q -= 1;
    return (T)q;
}
template <> __device__ __forceinline__ long long gf_ifloordiv<long long>(long long a, long long b, int* err, int site) {
    if (b == 0) { gf_fail(err, site); return 0; }
    if (b == -1) return (long long)(0ull - (unsigned long long)a);  // wraps like NumPy for the minimum
    long long q = a / b, r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) q -= 1;
    return q;
}
template <typename T> __device__ __forceinline__ T gf_imod(T a, T b, int* err, int site) {
    if (b == 0) { gf_fail(err, site); return 0; }
    if ((long long)b == -1) return 0;
    long long r = (long long)a % (long long)b;
    if (r != 0 && ((r < 0) != ((long long)b < 0))) r += (long long)b;
    return (T)r;
}
// integer power by squaring, wrapping; a negative exponent is an error (as in NumPy)
__device__ __forceinline__ long long gf_ipow(long long a, long long b, int* err, int site) {
    if (b < 0) { gf_fail(err, site); return 0; }
    unsigned long long r = 1, x = (unsigned long long)a;
    while (b) { if (b & 1) r *= x; x *= x; b >>= 1; }
    return (long long)r;
}

// reduction functors (integers accumulate in 64 bits with wrapping)
struct GfSum {
    __device__ __forceinline__ float operator()(float a, float b) const { return a + b; }
    __device__ __forceinline__ double operator()(double a, double b) const { return a + b; }
    __device__ __forceinline__ long long operator()(long long a, long long b) const {
        return (long long)((unsigned long long)a + (unsigned long long)b); }
};
struct GfProd {
    __device__ __forceinline__ float operator()(float a, float b) const { return a * b; }
    __device__ __forceinline__ double operator()(double a, double b) const { return a * b; }
    __device__ __forceinline__ long long operator()(long long a, long long b) const {
        return (long long)((unsigned long long)a * (unsigned long long)b); }
};
struct GfMax { template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return gf_fmax(a, b); } };
struct GfMin { template <typename T> __device__ __forceinline__ T operator()(T a, T b) const { return gf_fmin(a, b); } };

// Block-wide reduction: warp shuffles, then one value per warp through shared memory.
// Every thread of the block calls it (blockDim.x a multiple of 32); every thread gets the result.
template <typename T, typename Op>
__device__ __forceinline__ T gf_block_reduce(T v, Op op, T identity, T* smem) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_down_sync(GF_FULL_MASK, v, o));
    if (lane == 0) smem[warp] = v;
    __syncthreads();
    if (warp == 0) {
        v = lane < nwarps ? smem[lane] : identity;
        for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_down_sync(GF_FULL_MASK, v, o));
        if (lane == 0) smem[32] = v;
    }
    __syncthreads();
    v = smem[32];
    __syncthreads();  // smem may be reused by the next reduction
    return v;
}

// (value, index) pairs: NaN wins, then the larger (smaller) value, then the smaller index (NumPy's argmax/argmin)
template <typename T, bool IsMax>
__device__ __forceinline__ bool gf_arg_better(T vb, long long ib, T va, long long ia) {
    if (vb != vb) return va == va || ib < ia;
    if (va != va) return false;
    if (IsMax ? vb > va : vb < va) return true;
    return vb == va && ib < ia;
}
template <typename T, bool IsMax>
__device__ __forceinline__ void gf_arg_combine(T& v, long long& i, T v2, long long i2) {
    if (i2 >= 0 && (i < 0 || gf_arg_better<T, IsMax>(v2, i2, v, i))) { v = v2; i = i2; }
}
template <typename T, bool IsMax>
__device__ __forceinline__ long long gf_block_argreduce(T v, long long i, T* sv, long long* si) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    for (int o = 16; o > 0; o >>= 1) {
        T v2 = __shfl_down_sync(GF_FULL_MASK, v, o);
        long long i2 = __shfl_down_sync(GF_FULL_MASK, i, o);
        gf_arg_combine<T, IsMax>(v, i, v2, i2);
    }
    if (lane == 0) { sv[warp] = v; si[warp] = i; }
    __syncthreads();
    if (warp == 0) {
        v = lane < nwarps ? sv[lane] : v;
        i = lane < nwarps ? si[lane] : -1;
        for (int o = 16; o > 0; o >>= 1) {
            T v2 = __shfl_down_sync(GF_FULL_MASK, v, o);
            long long i2 = __shfl_down_sync(GF_FULL_MASK, i, o);
            gf_arg_combine<T, IsMax>(v, i, v2, i2);
        }
        if (lane == 0) si[32] = i;
    }
    __syncthreads();
    i = si[32];
    __syncthreads();
    return i;
}

// atomic add for element types the hardware has no atomicAdd for: CAS on the 32-bit word holding it
template <typename T>
__device__ __forceinline__ void gf_atomic_add_small(T* p, T v) {
    unsigned int* word = (unsigned int*)((unsigned long long)p & ~3ull);
    const unsigned shift = (unsigned)(((unsigned long long)p & 3ull) * 8ull);
    const unsigned mask = (sizeof(T) == 1 ? 0xffu : 0xffffu) << shift;
    unsigned int old = *word, assumed;
    do {
        assumed = old;
        T cur = (T)((assumed & mask) >> shift);
        T next = (T)(cur + v);
        unsigned int bits = sizeof(T) == 1 ? (unsigned int)(unsigned char)next : (unsigned int)(unsigned short)next;
        old = atomicCAS(word, assumed, (assumed & ~mask) | (bits << shift));
    } while (old != assumed);
}
"""
