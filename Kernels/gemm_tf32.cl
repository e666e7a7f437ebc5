// TF32 tensor-core GEMM for NVIDIA: C = alpha · op(A) · op(B) + beta · C, row-major, any sizes,
// through inline PTX mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 (sm_80 and later; NVIDIA's
// OpenCL takes inline PTX, wgmma does not compile there).
//
// gemm_tf32: work-group of 32·GT_WM·GT_WN work-items (warps), one GT_BM × GT_BN block of C; the
//   warps form a GT_WM × GT_WN grid, each owning a (GT_BM/GT_WM) × (GT_BN/GT_WN) warp tile of
//   m16n8 accumulator tiles. K advances in slices of GT_BK: A's slice (GT_BM × GT_BK) and B's
//   (GT_BN × GT_BK, stored n-major) sit in local memory with K contiguous and rows padded to
//   GT_BK + 4 floats, which makes every fragment load below conflict-free (lanes g·20 + t cover
//   all 32 banks). The next slice is read into registers while the current one is multiplied.
//   Inputs are rounded to TF32 once, when stored to local memory (cvt.rna: nearest, ties away).
//   Out-of-range rows, columns and k are zero in the tiles; only in-range C is written, and C is
//   not read when beta == 0.
//
// Fragments of m16n8k8 with .tf32 (PTX ISA, "Matrix Fragments for mma.m16n8k8"), per lane,
// g = lane / 4 and t = lane % 4:
//   A (16×8, row): a0 (g, t), a1 (g+8, t), a2 (g, t+4), a3 (g+8, t+4)
//   B (8×8, col):  b0 (k = t, n = g), b1 (k = t+4, n = g)
//   C, D (16×8):   c0 (g, 2t), c1 (g, 2t+1), c2 (g+8, 2t), c3 (g+8, 2t+1)
//
// Without cl_nv_pragma_unroll (any non-NVIDIA compiler: PoCL rejects inline asm), or with
// GT_EMULATE defined, the mma and the rounding are emulated: each warp scatters its fragments to
// local memory by the layout above and every lane computes its four outputs from there. That
// checks everything around the instruction (tiling, fragment indexing, edges, the epilogue) on
// any device; the host refuses the TF32 GEMM on non-NVIDIA devices, so only tests run it.

#ifndef GT_BM
#define GT_BM 128  // rows of C per work-group
#endif
#ifndef GT_BN
#define GT_BN 128  // columns of C per work-group
#endif
#ifndef GT_BK
#define GT_BK 16   // k per local-memory slice (a multiple of 8)
#endif
#ifndef GT_WM
#define GT_WM 2    // warps along M
#endif
#ifndef GT_WN
#define GT_WN 4    // warps along N
#endif
#define GT_THREADS (32 * GT_WM * GT_WN)
#define GT_MT (GT_BM / GT_WM / 16)  // m16 tiles per warp
#define GT_NT (GT_BN / GT_WN / 8)   // n8 tiles per warp
#define GT_STRIDE (GT_BK + 4)
#define GT_A_LOADS (GT_BM * GT_BK / GT_THREADS)
#define GT_B_LOADS (GT_BN * GT_BK / GT_THREADS)

#if defined(cl_nv_pragma_unroll) && !defined(GT_EMULATE)
#define GT_PTX 1
#endif

#ifdef GT_PTX
static inline uint gt_to_tf32(const float x) {
    uint u;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(u) : "f"(x));
    return u;
}

// d += a · b for one m16n8k8 tile, the warp's 32 lanes together.
static inline void gt_mma(float* d, const uint* a, const uint* b, __local float* scratch, const int lane) {
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
#else
// Round to nearest on the top 19 bits, ties away from zero, as cvt.rna.tf32.f32.
static inline uint gt_to_tf32(const float x) {
    const uint u = as_uint(x);
    return isfinite(x) ? (u + 0x1000u) & 0xffffe000u : u;
}

// The same product through local memory: this warp's 16×8 A and 8×8 B (k-major) in `scratch`.
// Called by every work-item the same number of times (its barriers are the group's).
static inline void gt_mma(float* d, const uint* a, const uint* b, __local float* scratch, const int lane) {
    const int g = lane >> 2, t = lane & 3;
    __local float* sa = scratch;        // sa[row * 8 + k]
    __local float* sb = scratch + 128;  // sb[k * 8 + n]
    sa[g * 8 + t] = as_float(a[0]);
    sa[(g + 8) * 8 + t] = as_float(a[1]);
    sa[g * 8 + t + 4] = as_float(a[2]);
    sa[(g + 8) * 8 + t + 4] = as_float(a[3]);
    sb[t * 8 + g] = as_float(b[0]);
    sb[(t + 4) * 8 + g] = as_float(b[1]);
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int i = 0; i < 4; ++i) {
        const int row = g + (i >> 1) * 8, col = 2 * t + (i & 1);
        float sum = 0.0f;
        for (int k = 0; k < 8; ++k) sum = fma(sa[row * 8 + k], sb[k * 8 + col], sum);
        d[i] += sum;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}
#endif

// Element (r, k) of a GT_R × GT_BK slice: x[r·ld + k] when k is contiguous, else x[k·ld + r].
static inline float gt_load(__global const float* x, const int ld, const int r, const int k, const int rows,
                            const int depth, const int k_contiguous) {
    if (r >= rows || k >= depth) return 0.0f;
    return k_contiguous ? x[(long)r * ld + k] : x[(long)k * ld + r];
}

__kernel __attribute__((reqd_work_group_size(GT_THREADS, 1, 1)))
void gemm_tf32(const int m, const int n, const int k, const float alpha, __global const float* a, const int lda,
               const int trans_a, __global const float* b, const int ldb, const int trans_b, const float beta,
               __global float* c, const int ldc, __local float* mma_scratch) {
    __local float a_tile[GT_BM * GT_STRIDE];  // a_tile[row][k]
    __local float b_tile[GT_BN * GT_STRIDE];  // b_tile[col][k]
    const int lid = get_local_id(0), lane = lid & 31, warp = lid >> 5;
    const int g = lane >> 2, t = lane & 3;
    const int wm = warp / GT_WN, wn = warp % GT_WN;
    const int row0 = get_group_id(1) * GT_BM, col0 = get_group_id(0) * GT_BN;
    __local float* scratch = mma_scratch + warp * 192;
    // op(A)[r][kk] has k contiguous unless A is transposed; op(B)[kk][col], as b_tile[col][kk], has k
    // contiguous only when B is transposed. Threads walk the contiguous index fastest.
    const int a_kc = !trans_a, b_kc = trans_b;

    float acc[GT_MT][GT_NT][4];
#pragma unroll
    for (int i = 0; i < GT_MT; ++i) {
#pragma unroll
        for (int j = 0; j < GT_NT; ++j) {
#pragma unroll
            for (int q = 0; q < 4; ++q) acc[i][j][q] = 0.0f;
        }
    }

    float ra[GT_A_LOADS], rb[GT_B_LOADS];
#define GT_FETCH(K0)                                                                                         \
    for (int l = 0; l < GT_A_LOADS; ++l) {                                                                   \
        const int e = lid + l * GT_THREADS;                                                                  \
        const int r = a_kc ? e / GT_BK : e % GT_BM, kk = a_kc ? e % GT_BK : e / GT_BM;                       \
        ra[l] = gt_load(a, lda, row0 + r, (K0) + kk, m, k, a_kc);                                            \
    }                                                                                                        \
    for (int l = 0; l < GT_B_LOADS; ++l) {                                                                   \
        const int e = lid + l * GT_THREADS;                                                                  \
        const int r = b_kc ? e / GT_BK : e % GT_BN, kk = b_kc ? e % GT_BK : e / GT_BN;                       \
        rb[l] = gt_load(b, ldb, col0 + r, (K0) + kk, n, k, b_kc);                                            \
    }
#define GT_STORE()                                                                                           \
    for (int l = 0; l < GT_A_LOADS; ++l) {                                                                   \
        const int e = lid + l * GT_THREADS;                                                                  \
        const int r = a_kc ? e / GT_BK : e % GT_BM, kk = a_kc ? e % GT_BK : e / GT_BM;                       \
        a_tile[r * GT_STRIDE + kk] = as_float(gt_to_tf32(ra[l]));                                                \
    }                                                                                                        \
    for (int l = 0; l < GT_B_LOADS; ++l) {                                                                   \
        const int e = lid + l * GT_THREADS;                                                                  \
        const int r = b_kc ? e / GT_BK : e % GT_BN, kk = b_kc ? e % GT_BK : e / GT_BN;                       \
        b_tile[r * GT_STRIDE + kk] = as_float(gt_to_tf32(rb[l]));                                                \
    }

    GT_FETCH(0)
    GT_STORE()
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int k0 = 0; k0 < k; k0 += GT_BK) {
        const int more = k0 + GT_BK < k;
        if (more) { GT_FETCH(k0 + GT_BK) }
#pragma unroll
        for (int k8 = 0; k8 < GT_BK; k8 += 8) {
            uint fa[GT_MT][4], fb[GT_NT][2];
#pragma unroll
            for (int i = 0; i < GT_MT; ++i) {
                __local const float* p = a_tile + (wm * (GT_BM / GT_WM) + i * 16 + g) * GT_STRIDE + k8 + t;
                fa[i][0] = as_uint(p[0]);
                fa[i][1] = as_uint(p[8 * GT_STRIDE]);
                fa[i][2] = as_uint(p[4]);
                fa[i][3] = as_uint(p[8 * GT_STRIDE + 4]);
            }
#pragma unroll
            for (int j = 0; j < GT_NT; ++j) {
                __local const float* p = b_tile + (wn * (GT_BN / GT_WN) + j * 8 + g) * GT_STRIDE + k8 + t;
                fb[j][0] = as_uint(p[0]);
                fb[j][1] = as_uint(p[4]);
            }
#pragma unroll
            for (int i = 0; i < GT_MT; ++i) {
#pragma unroll
                for (int j = 0; j < GT_NT; ++j) gt_mma(acc[i][j], fa[i], fb[j], scratch, lane);
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (more) {
            GT_STORE()
            barrier(CLK_LOCAL_MEM_FENCE);
        }
    }
#undef GT_FETCH
#undef GT_STORE

#pragma unroll
    for (int i = 0; i < GT_MT; ++i) {
#pragma unroll
        for (int j = 0; j < GT_NT; ++j) {
#pragma unroll
            for (int q = 0; q < 4; ++q) {
                const int row = row0 + wm * (GT_BM / GT_WM) + i * 16 + g + (q >> 1) * 8;
                const int col = col0 + wn * (GT_BN / GT_WN) + j * 8 + 2 * t + (q & 1);
                if (row < m && col < n) {
                    __global float* out = c + (long)row * ldc + col;
                    *out = beta == 0.0f ? alpha * acc[i][j][q] : fma(alpha, acc[i][j][q], beta * *out);
                }
            }
        }
    }
}
