// Similarity top-k for weighted kNN: S = Q·Kᵀ computed in tiles and folded at once into each
// query row's k best (value, index), so no R×C similarity matrix is written to device memory.
//
// knn_topk_tiles:   work-group (KNN_TM/KNN_WPTM)·(KNN_TN/KNN_WPTN) work-items, one tile of KNN_TM
//                   query rows × one split of the key columns (grid dimension 1); each work-item
//                   accumulates a KNN_WPTM × KNN_WPTN micro-tile (rows ty + i·DIMM, columns
//                   tx + j·DIMN: conflict-free local reads) over feature slices of KNN_TK staged in
//                   local memory, as CLBlast's Xgemm does. Epilogue per tile: a score enters only if
//                   it beats its row's current k-th entry (after the first tiles almost none do);
//                   entrants go to per-row buckets of KNN_BUCKET slots (aliasing the GEMM tiles,
//                   dead by then), and one owner work-item per row insertion-sorts its bucket into
//                   the row's list (local memory, k entries, best first). Full buckets leave the
//                   rest pending for another round. Lists start from the running selection in
//                   split 0 and empty elsewhere; each split writes its lists to partials.
// knn_merge_splits: one work-item per row: the k best of the splits' sorted lists.
//
// Order as topK (eval.cl, EvalReference.better): larger value first, equal values by lower index,
// NaN as −∞, empty slots (index −1) last. Every real index is distinct, so the k best under this
// total order are one set whatever the tiling, and ties go to the lower index exactly as topK's.
// Assumes KNN_WPTM·KNN_WPTN ≤ 64 (a ulong of pending candidates) and 2·KNN_TM·KNN_BUCKET ≤ the
// tile floats (the host checks both).

#ifndef KNN_TM
#define KNN_TM 64  // query rows per work-group
#endif
#ifndef KNN_TN
#define KNN_TN 64  // key columns per tile
#endif
#ifndef KNN_TK
#define KNN_TK 16  // features per local-memory slice
#endif
#ifndef KNN_WPTM
#define KNN_WPTM 4  // rows per work-item
#endif
#ifndef KNN_WPTN
#define KNN_WPTN 4  // columns per work-item
#endif
#ifndef KNN_BUCKET
#define KNN_BUCKET 8  // entrants per row and round
#endif
#ifndef KNN_MAX_SPLITS
#define KNN_MAX_SPLITS 64
#endif
#define KNN_DIMM (KNN_TM / KNN_WPTM)
#define KNN_DIMN (KNN_TN / KNN_WPTN)
#define KNN_THREADS (KNN_DIMM * KNN_DIMN)
#define KNN_QS_STRIDE (KNN_TM + 1)  // +1: the loads write columns of qs, conflict-free so
#define KNN_KS_STRIDE (KNN_TN + 1)

__kernel __attribute__((reqd_work_group_size(KNN_THREADS, 1, 1)))
void knn_topk_tiles(__global const float* queries, __global const float* keys, const int rows, const int cols,
                    const int depth, const int column_offset, const int cols_per_split,
                    __global const float* run_values, __global const float* run_indices, const int has_running,
                    __global float* out_values, __global float* out_indices, const int k,
                    __local float* list_v, __local int* list_i) {
    __local float tiles[KNN_TK * KNN_QS_STRIDE + KNN_TK * KNN_KS_STRIDE];
    __local float* qs = tiles;                         // qs[kk][m]
    __local float* ks = tiles + KNN_TK * KNN_QS_STRIDE;  // ks[kk][n]
    __local float* bucket_v = tiles;                   // after the tile's GEMM: bucket_v[m][slot]
    __local int* bucket_i = (__local int*)(tiles + KNN_TM * KNN_BUCKET);
    __local int bucket_n[KNN_TM];
    __local int queued;

    const int lid = get_local_id(0), tx = lid % KNN_DIMN, ty = lid / KNN_DIMN;
    const int row0 = get_group_id(0) * KNN_TM, split = get_group_id(1);
    const int col_begin = split * cols_per_split, col_end = min(cols, col_begin + cols_per_split);

    for (int p = lid; p < KNN_TM * k; p += KNN_THREADS) {
        const int row = row0 + p / k;
        const bool take = has_running && split == 0 && row < rows;
        const long g = (long)row * k + p % k;
        list_v[p] = take ? run_values[g] : -INFINITY;
        list_i[p] = take ? (int)run_indices[g] : -1;
    }
    barrier(CLK_LOCAL_MEM_FENCE);

    for (int c0 = col_begin; c0 < col_end; c0 += KNN_TN) {
        float acc[KNN_WPTM][KNN_WPTN];
#pragma unroll
        for (int i = 0; i < KNN_WPTM; ++i) {
#pragma unroll
            for (int j = 0; j < KNN_WPTN; ++j) acc[i][j] = 0.0f;
        }
        for (int d0 = 0; d0 < depth; d0 += KNN_TK) {
            for (int e = lid; e < KNN_TM * KNN_TK; e += KNN_THREADS) {
                const int m = e / KNN_TK, kk = e % KNN_TK, row = row0 + m, d = d0 + kk;
                qs[kk * KNN_QS_STRIDE + m] = row < rows && d < depth ? queries[(long)row * depth + d] : 0.0f;
            }
            for (int e = lid; e < KNN_TN * KNN_TK; e += KNN_THREADS) {
                const int n = e / KNN_TK, kk = e % KNN_TK, col = c0 + n, d = d0 + kk;
                ks[kk * KNN_KS_STRIDE + n] = col < col_end && d < depth ? keys[(long)col * depth + d] : 0.0f;
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int kk = 0; kk < KNN_TK; ++kk) {
                float a[KNN_WPTM], b[KNN_WPTN];
#pragma unroll
                for (int i = 0; i < KNN_WPTM; ++i) a[i] = qs[kk * KNN_QS_STRIDE + ty + i * KNN_DIMM];
#pragma unroll
                for (int j = 0; j < KNN_WPTN; ++j) b[j] = ks[kk * KNN_KS_STRIDE + tx + j * KNN_DIMN];
#pragma unroll
                for (int i = 0; i < KNN_WPTM; ++i) {
#pragma unroll
                    for (int j = 0; j < KNN_WPTN; ++j) acc[i][j] = fma(a[i], b[j], acc[i][j]);
                }
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }

        // Which of this work-item's scores beat their row's k-th entry.
        ulong pending = 0;
#pragma unroll
        for (int i = 0; i < KNN_WPTM; ++i) {
#pragma unroll
            for (int j = 0; j < KNN_WPTN; ++j) {
                const int m = ty + i * KNN_DIMM, col = c0 + tx + j * KNN_DIMN;
                if (isnan(acc[i][j])) acc[i][j] = -INFINITY;
                if (row0 + m < rows && col < col_end
                    && topk_better(acc[i][j], column_offset + col, list_v[m * k + k - 1], list_i[m * k + k - 1])) {
                    pending |= 1UL << (i * KNN_WPTN + j);
                }
            }
        }
        // Rounds: queue what fits into the buckets, insert, until nothing is queued. The k-th entry
        // only rises, so a score is checked again each round and dropped once it no longer enters.
        while (true) {
            for (int m = lid; m < KNN_TM; m += KNN_THREADS) bucket_n[m] = 0;
            if (lid == 0) queued = 0;
            barrier(CLK_LOCAL_MEM_FENCE);
            if (pending) {
#pragma unroll
                for (int i = 0; i < KNN_WPTM; ++i) {
#pragma unroll
                    for (int j = 0; j < KNN_WPTN; ++j) {
                        const ulong bit = 1UL << (i * KNN_WPTN + j);
                        if (pending & bit) {
                            const int m = ty + i * KNN_DIMM, index = column_offset + c0 + tx + j * KNN_DIMN;
                            if (!topk_better(acc[i][j], index, list_v[m * k + k - 1], list_i[m * k + k - 1])) {
                                pending &= ~bit;
                            } else {
                                const int slot = atomic_inc(&bucket_n[m]);
                                if (slot < KNN_BUCKET) {
                                    bucket_v[m * KNN_BUCKET + slot] = acc[i][j];
                                    bucket_i[m * KNN_BUCKET + slot] = index;
                                    pending &= ~bit;
                                    atomic_or(&queued, 1);
                                }
                            }
                        }
                    }
                }
            }
            barrier(CLK_LOCAL_MEM_FENCE);
            if (!queued) break;  // uniform: read by all after the barrier, reset only after the next one
            for (int m = lid; m < KNN_TM; m += KNN_THREADS) {
                __local float* lv = list_v + m * k;
                __local int* li = list_i + m * k;
                const int count = min(bucket_n[m], KNN_BUCKET);
                for (int q = 0; q < count; ++q) {
                    const float v = bucket_v[m * KNN_BUCKET + q];
                    const int index = bucket_i[m * KNN_BUCKET + q];
                    if (!topk_better(v, index, lv[k - 1], li[k - 1])) continue;
                    int p = k - 1;
                    for (; p > 0 && topk_better(v, index, lv[p - 1], li[p - 1]); --p) {
                        lv[p] = lv[p - 1];
                        li[p] = li[p - 1];
                    }
                    lv[p] = v;
                    li[p] = index;
                }
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
    }

    for (int p = lid; p < KNN_TM * k; p += KNN_THREADS) {
        const int row = row0 + p / k;
        if (row >= rows) continue;
        const long g = ((long)split * rows + row) * k + p % k;
        out_values[g] = list_v[p];
        out_indices[g] = (float)list_i[p];
    }
}

__kernel void knn_merge_splits(__global const float* part_values, __global const float* part_indices,
                               const int splits, const int rows, const int k,
                               __global float* out_values, __global float* out_indices) {
    const int r = get_global_id(0);
    if (r >= rows) return;
    int head[KNN_MAX_SPLITS];
    for (int s = 0; s < splits; ++s) head[s] = 0;
    for (int p = 0; p < k; ++p) {
        int best = -1;
        float bv = -INFINITY;
        int bi = -1;
        for (int s = 0; s < splits; ++s) {
            if (head[s] >= k) continue;
            const long g = ((long)s * rows + r) * k + head[s];
            const float v = part_values[g];
            const int i = (int)part_indices[g];
            if (topk_better(v, i, bv, bi)) { best = s; bv = v; bi = i; }
        }
        out_values[(long)r * k + p] = bv;  // (−∞, −1) once every list is down to its empty slots
        out_indices[(long)r * k + p] = (float)bi;
        if (best >= 0) head[best] += 1;
    }
}
