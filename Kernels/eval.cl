// Evaluation of frozen features: a top-k selection that merges into a running top-k, the
// weighted-kNN vote, distances from GEMM dot products, and silhouette values.
// The ops' definitions are in Sources/SSLCore/Ops/EvalOps.swift; their Double forms in EvalReference.swift.
//
// topk_merge:         one work-group of T = 2^t work-items per row (any T ≥ 1, any k ≤ 1024).
//                     The running k-list sits in local memory, double-buffered (2k entries). The
//                     row's scores are read in tiles of T: a tile with no entry better than the
//                     current k-th is skipped (after the first tiles, most are); otherwise it is
//                     bitonic-sorted best-first (log²T/2 steps) and merged with the k-list by
//                     rank: each entry's new position is its own position plus the number of
//                     entries of the other list that beat it (a binary search), kept if < k.
//                     Order: real entries before empty ones (index −1), larger value first, equal
//                     values by lower index; NaN reads as −∞. Real entries are all distinct, so
//                     the ranks of real entries never collide.
// topk_rows_serial:   one work-item per row, for CPU devices (same order, same result): the
//                     row's k-list is kept sorted in the output itself, and a score enters by
//                     insertion when it beats the k-th, which after the first columns few do.
//                     topk_merge's barriers cost PoCL more than the selection (60 000 × 2 000
//                     scores, k 20: 8 s against 0.3 s).
// knn_votes:          one work-item per row: Σ exp((s − s_best)/T) into the row's class votes, then
//                     the first arg-max.
// distances_from_dots: one work-item per element, in place: euclidean sqrt(max(‖x‖²+‖y‖²−2x·y, 0))
//                     or cosine clamp(1 − x̂·ŷ, 0, 2); one sample seen twice (j − i == offset) gets 0.
// silhouette_samples: one work-item per row: a, b and (b − a)/max(a, b) from per-cluster sums.
// nearest_by_class:   one work-item per row: the least distance to a column of the row's class
//                     and to one of another class, merged into the running minima; the row
//                     itself (j − i == offset) and NaN (fmin keeps the other operand) are skipped.

__kernel void topk_merge(__global const float* scores, const int cols, const int column_offset,
                         __global const float* run_values, __global const float* run_indices,
                         const int has_running, __global float* out_values, __global float* out_indices,
                         const int k, __local float* list_v, __local int* list_i,
                         __local float* tile_v, __local int* tile_i) {
    __local int any_candidate;
    const int row = get_group_id(0), lid = get_local_id(0), t_count = get_local_size(0);
    __global const float* srow = scores + (long)row * cols;
    for (int p = lid; p < k; p += t_count) {
        const long g = (long)row * k + p;
        list_v[p] = has_running ? run_values[g] : -INFINITY;
        list_i[p] = has_running ? (int)run_indices[g] : -1;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    int cur = 0;  // which half of the double buffer holds the list; the same in every work-item
    for (int base = 0; base < cols; base += t_count) {
        __local float* lv = list_v + cur * k;
        __local int* li = list_i + cur * k;
        const int j = base + lid;
        float v = -INFINITY;
        int idx = -1;
        if (j < cols) {
            v = srow[j];
            if (isnan(v)) v = -INFINITY;
            idx = column_offset + j;
        }
        const bool candidate = idx >= 0 && topk_better(v, idx, lv[k - 1], li[k - 1]);
        if (lid == 0) any_candidate = 0;
        barrier(CLK_LOCAL_MEM_FENCE);
        if (candidate) atomic_or(&any_candidate, 1);
        tile_v[lid] = v;
        tile_i[lid] = candidate ? idx : -1;  // entries that cannot enter the list are dropped now
        barrier(CLK_LOCAL_MEM_FENCE);
        // Uniform: every work-item reads the flag before any can write it again (the write of 1
        // comes after the next iteration's first barrier).
        if (!any_candidate) continue;

        // Bitonic sort of the tile, best first (ascending in "worse").
        for (int size = 2; size <= t_count; size <<= 1) {
            for (int stride = size >> 1; stride > 0; stride >>= 1) {
                const int partner = lid ^ stride;
                if (partner > lid) {
                    const float av = tile_v[lid], bv = tile_v[partner];
                    const int ai = tile_i[lid], bi = tile_i[partner];
                    const bool swap = (lid & size) == 0 ? topk_better(bv, bi, av, ai) : topk_better(av, ai, bv, bi);
                    if (swap) {
                        tile_v[lid] = bv; tile_v[partner] = av;
                        tile_i[lid] = bi; tile_i[partner] = ai;
                    }
                }
                barrier(CLK_LOCAL_MEM_FENCE);
            }
        }

        // Merge by rank into the other half.
        __local float* nv = list_v + (1 - cur) * k;
        __local int* ni = list_i + (1 - cur) * k;
        for (int p = lid; p < k; p += t_count) { nv[p] = -INFINITY; ni[p] = -1; }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int p = lid; p < k; p += t_count) {
            const float ev = lv[p];
            const int ei = li[p];
            if (ei < 0) break;  // empties follow every real entry
            int lo = 0, hi = t_count;
            while (lo < hi) {
                const int mid = (lo + hi) >> 1;
                if (topk_better(tile_v[mid], tile_i[mid], ev, ei)) lo = mid + 1; else hi = mid;
            }
            if (p + lo < k) { nv[p + lo] = ev; ni[p + lo] = ei; }
        }
        {
            const float ev = tile_v[lid];
            const int ei = tile_i[lid];
            if (ei >= 0) {
                int lo = 0, hi = k;
                while (lo < hi) {
                    const int mid = (lo + hi) >> 1;
                    if (topk_better(lv[mid], li[mid], ev, ei)) lo = mid + 1; else hi = mid;
                }
                if (lid + lo < k) { nv[lid + lo] = ev; ni[lid + lo] = ei; }
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        cur = 1 - cur;
    }
    for (int p = lid; p < k; p += t_count) {
        const long g = (long)row * k + p;
        out_values[g] = list_v[cur * k + p];
        out_indices[g] = (float)list_i[cur * k + p];
    }
}

__kernel void topk_rows_serial(__global const float* scores, const int rows, const int cols, const int column_offset,
                               __global const float* run_values, __global const float* run_indices,
                               const int has_running, __global float* out_values, __global float* out_indices,
                               const int k) {
    const int row = get_global_id(0);
    if (row >= rows) return;
    __global const float* srow = scores + (long)row * cols;
    __global float* lv = out_values + (long)row * k;
    __global float* li = out_indices + (long)row * k;
    for (int p = 0; p < k; p++) {
        lv[p] = has_running ? run_values[(long)row * k + p] : -INFINITY;
        li[p] = has_running ? run_indices[(long)row * k + p] : -1.0f;
    }
    float worst_v = lv[k - 1];
    int worst_i = (int)li[k - 1];
    for (int j = 0; j < cols; j++) {
        float v = srow[j];
        if (isnan(v)) v = -INFINITY;
        const int idx = column_offset + j;
        if (!topk_better(v, idx, worst_v, worst_i)) continue;
        int p = k - 1;
        while (p > 0 && topk_better(v, idx, lv[p - 1], (int)li[p - 1])) {
            lv[p] = lv[p - 1];
            li[p] = li[p - 1];
            p--;
        }
        lv[p] = v;
        li[p] = (float)idx;
        worst_v = lv[k - 1];
        worst_i = (int)li[k - 1];
    }
}

__kernel void knn_votes(__global const float* values, __global const float* indices, __global const int* labels,
                        __global float* votes, __global float* predictions, const int rows, const int k,
                        const int classes, const int label_count, const float inv_t) {
    const int r = get_global_id(0);
    if (r >= rows) return;
    __global float* v = votes + (long)r * classes;
    for (int c = 0; c < classes; ++c) v[c] = 0.0f;
    const float top = values[(long)r * k];
    for (int p = 0; p < k; ++p) {
        const int idx = (int)indices[(long)r * k + p];
        if (idx < 0 || idx >= label_count) continue;
        v[labels[idx]] += exp((values[(long)r * k + p] - top) * inv_t);
    }
    int best = 0;
    for (int c = 1; c < classes; ++c) {
        if (v[c] > v[best]) best = c;
    }
    predictions[r] = (float)best;
}


__kernel void distances_from_dots(__global float* dots, __global const float* x_sq, __global const float* y_sq,
                                  const int rows, const int cols, const int euclidean, const int has_diagonal,
                                  const int diagonal_offset) {
    const int gid = get_global_id(0);
    if (gid >= rows * cols) return;
    const int i = gid / cols, j = gid % cols;
    float d = euclidean ? sqrt(fmax(x_sq[i] + y_sq[j] - 2.0f * dots[gid], 0.0f)) : clamp(1.0f - dots[gid], 0.0f, 2.0f);
    if (has_diagonal && j - i == diagonal_offset) d = 0.0f;
    dots[gid] = d;
}

__kernel void silhouette_samples(__global const float* sums, __global const int* labels, __global const int* sizes,
                                 __global float* out, const int rows, const int clusters) {
    const int i = get_global_id(0);
    if (i >= rows) return;
    __global const float* s = sums + (long)i * clusters;
    const int own = labels[i];
    if (sizes[own] <= 1) { out[i] = 0.0f; return; }  // scikit-learn: s = 0 for a singleton
    const float a = s[own] / (float)(sizes[own] - 1);
    float b = INFINITY;
    for (int c = 0; c < clusters; ++c) {
        if (c != own) b = fmin(b, s[c] / (float)sizes[c]);
    }
    const float m = fmax(a, b);
    out[i] = m > 0.0f ? (b - a) / m : 0.0f;
}

__kernel void nearest_by_class(__global const float* distances, __global const int* row_labels,
                               __global const int* column_labels, __global const float* run_own,
                               __global const float* run_other, const int has_running, __global float* own,
                               __global float* other, const int rows, const int cols, const int has_diagonal,
                               const int diagonal_offset) {
    const int i = get_global_id(0);
    if (i >= rows) return;
    __global const float* d = distances + (long)i * cols;
    const int label = row_labels[i];
    float best_own = has_running ? run_own[i] : INFINITY, best_other = has_running ? run_other[i] : INFINITY;
    for (int j = 0; j < cols; ++j) {
        if (has_diagonal && j - i == diagonal_offset) continue;
        if (column_labels[j] == label) best_own = fmin(best_own, d[j]);
        else best_other = fmin(best_other, d[j]);
    }
    own[i] = best_own;
    other[i] = best_other;
}
