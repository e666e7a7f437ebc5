// The system headers of OpenCL (ICD loader) and CLBlast, as one module.
#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <CL/cl_ext.h>
#include <clblast_c.h>
