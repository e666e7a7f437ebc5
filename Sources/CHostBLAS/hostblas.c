// See include/hostblas.h.
#define _GNU_SOURCE
#include "hostblas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// CBLAS's enum values (cblas.h), so that no BLAS header is needed at build time.
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

typedef void (*sgemm_fn)(int layout, int transa, int transb, int m, int n, int k, float alpha,
                         const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static sgemm_fn sgemm;  // written once under load_lock, read by native kernels afterwards
static char library_path[1024];

static void *open_library(const char *path, char *text, size_t len) {
    const char *candidates[] = {path, "libopenblas.so.0", "libopenblas.so"};
    size_t used = 0;
    for (size_t i = path ? 0 : 1; i < sizeof candidates / sizeof candidates[0]; i++) {
        void *library = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
        if (library != NULL) return library;
        used += (size_t)snprintf(text + used, used < len ? len - used : 0, "%sdlopen(%s): %s",
                                 used ? "; " : "", candidates[i], dlerror());
        if (path) break;  // a named library is the only one tried
    }
    return NULL;
}

int hostblas_load(const char *path, char *error, size_t len) {
    pthread_mutex_lock(&load_lock);
    int result = 0;
    if (sgemm == NULL) {
        char text[1024] = "";
        void *library = open_library(path, text, sizeof text);
        void *symbol = library ? dlsym(library, "cblas_sgemm") : NULL;
        if (library != NULL && symbol == NULL) {
            snprintf(text, sizeof text, "cblas_sgemm not found: %s", dlerror());
            dlclose(library);
        }
        if (symbol != NULL) {
            Dl_info info;
            snprintf(library_path, sizeof library_path, "%s",
                     dladdr(symbol, &info) && info.dli_fname ? info.dli_fname : (path ? path : "libopenblas"));
            sgemm = (sgemm_fn)symbol;
        } else {
            if (error != NULL && len > 0) snprintf(error, len, "%s", text);
            result = -1;
        }
    }
    pthread_mutex_unlock(&load_lock);
    return result;
}

const char *hostblas_library(void) { return sgemm ? library_path : NULL; }

static void CL_CALLBACK free_host_memory(cl_mem mem, void *memory) {
    (void)mem;
    free(memory);
}

cl_mem hostblas_create_buffer(cl_context context, size_t bytes, cl_int *status) {
    void *memory = NULL;
    size_t rounded = (bytes + 4095) / 4096 * 4096;
    if (posix_memalign(&memory, 4096, rounded ? rounded : 4096) != 0) {
        *status = CL_OUT_OF_HOST_MEMORY;
        return NULL;
    }
    cl_mem mem = clCreateBuffer(context, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, bytes, memory, status);
    if (mem == NULL || *status != CL_SUCCESS) {
        free(memory);
        return NULL;
    }
    *status = clSetMemObjectDestructorCallback(mem, free_host_memory, memory);
    if (*status != CL_SUCCESS) {
        clReleaseMemObject(mem);  // the memory leaks rather than risk freeing it under the device
        return NULL;
    }
    return mem;
}

// The native kernel's argument block, copied by OpenCL.
struct gemm_call {
    float *a, *b, *c;
    int transpose_a, transpose_b, m, n, k, lda, ldb, ldc;
    float alpha, beta;
};

static void CL_CALLBACK run_sgemm(void *arguments) {
    const struct gemm_call *g = arguments;
    if (g->k == 0) {
        // BLAS leaves C alone only for beta 1; scale here so k = 0 means what it does in CLBlast.
        for (int i = 0; i < g->m; i++) {
            float *row = g->c + (size_t)i * (size_t)g->ldc;
            for (int j = 0; j < g->n; j++) row[j] = g->beta == 0 ? 0 : g->beta * row[j];
        }
        return;
    }
    sgemm(ROW_MAJOR, g->transpose_a ? TRANS : NO_TRANS, g->transpose_b ? TRANS : NO_TRANS,
          g->m, g->n, g->k, g->alpha, g->a, g->lda, g->b, g->ldb, g->beta, g->c, g->ldc);
}

static float *host_pointer(cl_mem mem) {
    void *pointer = NULL;
    if (clGetMemObjectInfo(mem, CL_MEM_HOST_PTR, sizeof pointer, &pointer, NULL) != CL_SUCCESS) return NULL;
    return pointer;
}

// The native kernels reach their buffers through host pointers, so OpenCL does not know they use
// them: each buffer is retained at the enqueue and released when the command completes, or a
// buffer released meanwhile could be destroyed, and its memory freed, under the command.
struct held_buffers {
    cl_uint count;
    cl_event own_event;  // the event this shim asked for when the caller wanted none
    cl_mem mems[];
};

static void CL_CALLBACK release_held(cl_event event, cl_int status, void *data) {
    (void)event;
    (void)status;
    struct held_buffers *held = data;
    for (cl_uint i = 0; i < held->count; i++) clReleaseMemObject(held->mems[i]);
    if (held->own_event != NULL) clReleaseEvent(held->own_event);
    free(held);
}

// Enqueues `function` with its argument block, holding `mems` until it completes.
static cl_int enqueue_holding(cl_command_queue queue, void(CL_CALLBACK *function)(void *), void *arguments,
                              size_t size, cl_uint count, const cl_mem *mems, cl_uint wait_count,
                              const cl_event *wait_list, cl_event *event) {
    struct held_buffers *held = malloc(sizeof(struct held_buffers) + count * sizeof(cl_mem));
    if (held == NULL) return CL_OUT_OF_HOST_MEMORY;
    held->count = count;
    held->own_event = NULL;
    cl_event done = NULL;
    cl_int status = clEnqueueNativeKernel(queue, function, arguments, size, 0, NULL, NULL, wait_count, wait_list, &done);
    if (status != CL_SUCCESS) {
        free(held);
        return status;
    }
    for (cl_uint i = 0; i < count; i++) {
        held->mems[i] = mems[i];
        clRetainMemObject(mems[i]);
    }
    if (event != NULL) *event = done; else held->own_event = done;
    status = clSetEventCallback(done, CL_COMPLETE, release_held, held);
    if (status != CL_SUCCESS) {
        // Without a callback, wait here, then let go.
        clWaitForEvents(1, &done);
        release_held(done, CL_COMPLETE, held);
        if (event != NULL) *event = done;
    }
    return CL_SUCCESS;
}

cl_int hostblas_enqueue_sgemm(cl_command_queue queue, int transpose_a, int transpose_b,
                              int m, int n, int k, float alpha,
                              cl_mem a, size_t offset_a, int lda,
                              cl_mem b, size_t offset_b, int ldb, float beta,
                              cl_mem c, size_t offset_c, int ldc,
                              cl_uint wait_count, const cl_event *wait_list, cl_event *event) {
    if (event != NULL) *event = NULL;
    if (sgemm == NULL) return CL_INVALID_OPERATION;
    if (m == 0 || n == 0) return CL_SUCCESS;
    float *ha = host_pointer(a), *hb = host_pointer(b), *hc = host_pointer(c);
    if (ha == NULL || hb == NULL || hc == NULL) return CL_INVALID_MEM_OBJECT;
    struct gemm_call call = {
        .a = ha + offset_a, .b = hb + offset_b, .c = hc + offset_c,
        .transpose_a = transpose_a, .transpose_b = transpose_b, .m = m, .n = n, .k = k,
        .lda = lda > 0 ? lda : 1, .ldb = ldb > 0 ? ldb : 1, .ldc = ldc > 0 ? ldc : 1,
        .alpha = alpha, .beta = beta,
    };
    const cl_mem mems[3] = {a, b, c};
    return enqueue_holding(queue, run_sgemm, &call, sizeof call, 3, mems, wait_count, wait_list, event);
}
