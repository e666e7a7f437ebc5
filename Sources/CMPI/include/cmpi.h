// C shim over Open MPI, loaded at run time with dlopen: a one-process run never needs libmpi,
// and the package builds without any MPI header. Every function returns an MPI status code
// (0 is MPI_SUCCESS) unless its comment says otherwise.
//
// The handle types are declared here instead of taken from <mpi.h>: Open MPI's MPI_Comm,
// MPI_Datatype, MPI_Op and MPI_Errhandler are all pointers, and MPI_COMM_WORLD, MPI_FLOAT,
// MPI_SUM, MPI_ERRORS_RETURN are the addresses of the exported globals ompi_mpi_comm_world,
// ompi_mpi_float, ompi_mpi_op_sum, ompi_mpi_errors_return (mpi.h: OMPI_PREDEFINED_GLOBAL).
// That is Open MPI's ABI (4.x and 5.x); MPICH's integer handles are not supported.
#ifndef CMPI_H
#define CMPI_H

#include <stddef.h>

/// Loads libmpi: `path` if not NULL, else "libmpi.so.40", else "libmpi.so", and resolves every
/// function and global the shim uses. Returns 0, or -1 with dlopen's or dlsym's message in
/// `error`. Calling it again after a success does nothing.
int cmpi_load(const char *path, char *error, size_t len);

/// 1 once cmpi_load has succeeded, else 0.
int cmpi_loaded(void);

/// MPI_Init_thread(MPI_THREAD_SERIALIZED), then MPI_ERRORS_RETURN on MPI_COMM_WORLD so that
/// errors come back as codes instead of aborting. `provided` receives the thread level granted
/// (0 single, 1 funneled, 2 serialized, 3 multiple).
int cmpi_init(int *provided);

int cmpi_rank(int *rank);
int cmpi_size(int *size);

/// In place (MPI_IN_PLACE) sums over MPI_COMM_WORLD.
int cmpi_allreduce_sum_float(void *buf, int count);
int cmpi_allreduce_sum_double(void *buf, int count);

/// MPI_Iallreduce in place (sum of floats): starts the reduction and returns at once; `buf` must
/// stay valid and untouched until cmpi_wait (or a cmpi_test reporting done) completes `request`.
int cmpi_iallreduce_sum_float(void *buf, int count, void **request);
/// MPI_Wait on a request of cmpi_iallreduce_sum_float (status ignored).
int cmpi_wait(void **request);
/// MPI_Test: sets `done` to 1 when the request has completed (it then needs no wait). Calling it
/// also lets Open MPI progress outstanding collectives while the caller does other work.
int cmpi_test(void **request, int *done);

/// `recv` receives `count` floats from every rank, rank order: size·count floats.
int cmpi_allgather_float(const void *send, int count, void *recv);
/// The same for ints: size·count ints (used to exchange the counts of an uneven gather).
int cmpi_allgather_int(const void *send, int count, void *recv);
/// `recv` receives counts[r] floats from rank r at offset displs[r].
int cmpi_allgatherv_float(const void *send, int count, void *recv, const int *counts, const int *displs);

int cmpi_bcast_float(void *buf, int count, int root);
int cmpi_barrier(void);

/// MPI_Get_processor_name into `name` (NUL-terminated, truncated to `len`).
int cmpi_processor_name(char *name, size_t len);

/// MPI's text for `code` (NUL-terminated, truncated to `len`); a fixed text when libmpi is not
/// loaded. Returns nothing.
void cmpi_error_string(int code, char *buf, size_t len);

/// MPI_Finalize, once; later calls return 0. Calls after it would be erroneous in MPI.
int cmpi_finalize(void);
/// 1 after cmpi_finalize, else 0.
int cmpi_finalized(void);

/// MPI_Abort(MPI_COMM_WORLD, code): ends every rank of the job; mpirun exits non-zero.
int cmpi_abort(int code);

#endif
