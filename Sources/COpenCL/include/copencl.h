// C shim over OpenCL and CLBlast: readable names for status codes, which the
// headers define as macros and Swift cannot enumerate on its own.
#ifndef COPENCL_H
#define COPENCL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <CL/cl_ext.h>
#include <clblast_c.h>

/// The `CL_…` name of an OpenCL status code, or NULL for a code the headers do not define.
const char *copencl_status_name(cl_int status);

/// The `CLBlast…` name of a CLBlast status code, or NULL for an unknown code.
const char *copencl_clblast_status_name(int status);

#endif
