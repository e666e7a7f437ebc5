// GEMM on the host's BLAS as a command of an OpenCL queue, for CPU OpenCL devices (PoCL):
// clEnqueueNativeKernel runs a host function in queue order, so a cblas_sgemm orders with the
// library's kernels exactly as CLBlast's would, without a host wait.
//
// The buffers are created over host memory this shim allocates (CL_MEM_USE_HOST_PTR), which a
// CPU device uses as its own storage: the GEMM reads and writes them through the pointers that
// clGetMemObjectInfo(CL_MEM_HOST_PTR) returns, each retained until the command completes (OpenCL
// does not know the command uses them). OpenCL's own route, mem_list/args_mem_loc, is
// not used: PoCL 3.1 sorts mem_list by object id and drops repeats before it substitutes the
// pointers, so A, B and C arrive in the wrong fields unless they were created in that order.
//
// The BLAS is loaded at run time with dlopen (OpenBLAS by default): the package builds without a
// BLAS header or library, and GPU machines, which never use it, need neither.
#ifndef HOSTBLAS_H
#define HOSTBLAS_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stddef.h>

/// Loads the BLAS: `path` if not NULL, else libopenblas.so.0, else libopenblas.so, and resolves
/// cblas_sgemm. Returns 0, or -1 with dlopen's or dlsym's message in `error`. Idempotent after a
/// success; safe to call from several threads.
int hostblas_load(const char *path, char *error, size_t len);

/// The file the BLAS was loaded from (as dladdr reports cblas_sgemm's), or NULL before a success.
const char *hostblas_library(void);

/// A read-write buffer of `bytes` bytes over 4 KiB-aligned host memory that this shim allocates
/// and frees when OpenCL destroys the buffer (a destructor callback). Returns NULL with `status`
/// set on failure (CL_OUT_OF_HOST_MEMORY when the host allocation fails).
cl_mem hostblas_create_buffer(cl_context context, size_t bytes, cl_int *status);

/// Enqueues C = alpha·op(A)·op(B) + beta·C, row-major, on `queue` as a native kernel.
/// A, B and C are buffers of hostblas_create_buffer with element offsets; leading dimensions
/// are the stored row lengths (at least 1). m, n, k ≥ 0; with m or n zero nothing is enqueued and
/// `event` is set to NULL; with k zero C is scaled by beta. The caller checks that every operand
/// lies inside its buffer. Returns clEnqueueNativeKernel's status, CL_INVALID_OPERATION when no
/// BLAS is loaded, or CL_INVALID_MEM_OBJECT for a buffer without a host pointer.
cl_int hostblas_enqueue_sgemm(cl_command_queue queue, int transpose_a, int transpose_b,
                              int m, int n, int k, float alpha,
                              cl_mem a, size_t offset_a, int lda,
                              cl_mem b, size_t offset_b, int ldb, float beta,
                              cl_mem c, size_t offset_c, int ldc,
                              cl_uint wait_count, const cl_event *wait_list, cl_event *event);

#endif
