// C shim over CLBlast's C++ RetrieveParameters, which the C API lacks: the tuning parameters a
// kernel of CLBlast will be compiled with on a device (its database entry, or an override).
#ifndef CCLBLAST_PARAMETERS_H
#define CCLBLAST_PARAMETERS_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Writes the single-precision parameters of `kernel_name` ("Xgemm", "XgemmDirect",
/// "GemmRoutine", …) on `device` into `buffer` as NUL-terminated "NAME=VALUE" lines, sorted by
/// name. Returns CLBlast's status (0 for success); -2048 (CLBlastInvalidOverrideKernel) for an
/// unknown kernel, -1 when `capacity` is too small.
int cclblast_retrieve_parameters(cl_device_id device, const char *kernel_name, char *buffer, size_t capacity);

#ifdef __cplusplus
}
#endif

#endif
