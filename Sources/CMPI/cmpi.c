// Open MPI through dlopen/dlsym: the function pointers and the addresses of the predefined
// handles, resolved once by cmpi_load. See include/cmpi.h for why no MPI header is used.
#include "cmpi.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

// Open MPI's handles are pointers to its predefined objects; the shim only passes them on.
typedef void *MPI_Comm;
typedef void *MPI_Datatype;
typedef void *MPI_Op;
typedef void *MPI_Errhandler;
typedef void *MPI_Request;

#define CMPI_IN_PLACE ((void *)1)        // mpi.h: #define MPI_IN_PLACE ((void *) 1)
#define CMPI_THREAD_SERIALIZED 2         // mpi.h: enum { SINGLE, FUNNELED, SERIALIZED, MULTIPLE }
#define CMPI_MAX_STRING 256              // MPI_MAX_ERROR_STRING, MPI_MAX_PROCESSOR_NAME (OPAL_MAX_…)

static struct {
    void *library;
    int finalized;
    int (*init_thread)(int *, char ***, int, int *);
    int (*comm_rank)(MPI_Comm, int *);
    int (*comm_size)(MPI_Comm, int *);
    int (*allreduce)(const void *, void *, int, MPI_Datatype, MPI_Op, MPI_Comm);
    int (*iallreduce)(const void *, void *, int, MPI_Datatype, MPI_Op, MPI_Comm, MPI_Request *);
    int (*wait)(MPI_Request *, void *);
    int (*test)(MPI_Request *, int *, void *);
    int (*allgather)(const void *, int, MPI_Datatype, void *, int, MPI_Datatype, MPI_Comm);
    int (*allgatherv)(const void *, int, MPI_Datatype, void *, const int *, const int *, MPI_Datatype, MPI_Comm);
    int (*bcast)(void *, int, MPI_Datatype, int, MPI_Comm);
    int (*barrier)(MPI_Comm);
    int (*finalize)(void);
    int (*error_string)(int, char *, int *);
    int (*comm_set_errhandler)(MPI_Comm, MPI_Errhandler);
    int (*abort_)(MPI_Comm, int);
    int (*get_processor_name)(char *, int *);
    MPI_Comm comm_world;
    MPI_Datatype type_float, type_double, type_int;
    MPI_Op op_sum;
    MPI_Errhandler errors_return;
} mpi;

// MPI_ERR_OTHER: what the shim returns when libmpi is not loaded.
#define CMPI_NOT_LOADED 16

static void copy_text(char *out, size_t len, const char *text) {
    if (out == NULL || len == 0) return;
    snprintf(out, len, "%s", text);
}

static int resolve(void *library, const char *name, void **slot, char *error, size_t len) {
    dlerror();
    *slot = dlsym(library, name);
    if (*slot == NULL) {
        const char *why = dlerror();
        char text[512];
        snprintf(text, sizeof text, "%s not found in libmpi: %s", name, why ? why : "null symbol");
        copy_text(error, len, text);
        return -1;
    }
    return 0;
}

int cmpi_load(const char *path, char *error, size_t len) {
    if (mpi.library != NULL) return 0;
    // RTLD_GLOBAL: Open MPI's own plugins (mca_*.so) are dlopened by libmpi and resolve
    // libmpi's and libopen-pal's symbols globally; with RTLD_LOCAL they fail to load.
    void *library = NULL;
    char text[1024] = "";
    if (path != NULL) {
        library = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
        if (library == NULL) snprintf(text, sizeof text, "dlopen(%s): %s", path, dlerror());
    } else {
        library = dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL);
        if (library == NULL) {
            snprintf(text, sizeof text, "dlopen(libmpi.so.40): %s", dlerror());
            library = dlopen("libmpi.so", RTLD_NOW | RTLD_GLOBAL);
            if (library == NULL) {
                size_t used = strlen(text);
                snprintf(text + used, sizeof text - used, "; dlopen(libmpi.so): %s", dlerror());
            }
        }
    }
    if (library == NULL) {
        copy_text(error, len, text);
        return -1;
    }
    struct { const char *name; void **slot; } symbols[] = {
        {"MPI_Init_thread", (void **)&mpi.init_thread},
        {"MPI_Comm_rank", (void **)&mpi.comm_rank},
        {"MPI_Comm_size", (void **)&mpi.comm_size},
        {"MPI_Allreduce", (void **)&mpi.allreduce},
        {"MPI_Iallreduce", (void **)&mpi.iallreduce},
        {"MPI_Wait", (void **)&mpi.wait},
        {"MPI_Test", (void **)&mpi.test},
        {"MPI_Allgather", (void **)&mpi.allgather},
        {"MPI_Allgatherv", (void **)&mpi.allgatherv},
        {"MPI_Bcast", (void **)&mpi.bcast},
        {"MPI_Barrier", (void **)&mpi.barrier},
        {"MPI_Finalize", (void **)&mpi.finalize},
        {"MPI_Error_string", (void **)&mpi.error_string},
        {"MPI_Comm_set_errhandler", (void **)&mpi.comm_set_errhandler},
        {"MPI_Abort", (void **)&mpi.abort_},
        {"MPI_Get_processor_name", (void **)&mpi.get_processor_name},
        {"ompi_mpi_comm_world", &mpi.comm_world},
        {"ompi_mpi_float", &mpi.type_float},
        {"ompi_mpi_double", &mpi.type_double},
        {"ompi_mpi_int", &mpi.type_int},
        {"ompi_mpi_op_sum", &mpi.op_sum},
        {"ompi_mpi_errors_return", &mpi.errors_return},
    };
    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
        if (resolve(library, symbols[i].name, symbols[i].slot, error, len) != 0) {
            dlclose(library);
            memset(&mpi, 0, sizeof mpi);
            return -1;
        }
    }
    mpi.library = library;
    return 0;
}

int cmpi_loaded(void) { return mpi.library != NULL; }

#define REQUIRE_LOADED() do { if (mpi.library == NULL) return CMPI_NOT_LOADED; } while (0)

int cmpi_init(int *provided) {
    REQUIRE_LOADED();
    int level = 0;
    int status = mpi.init_thread(NULL, NULL, CMPI_THREAD_SERIALIZED, &level);
    if (provided != NULL) *provided = level;
    if (status != 0) return status;
    return mpi.comm_set_errhandler(mpi.comm_world, mpi.errors_return);
}

int cmpi_rank(int *rank) { REQUIRE_LOADED(); return mpi.comm_rank(mpi.comm_world, rank); }
int cmpi_size(int *size) { REQUIRE_LOADED(); return mpi.comm_size(mpi.comm_world, size); }

int cmpi_allreduce_sum_float(void *buf, int count) {
    REQUIRE_LOADED();
    return mpi.allreduce(CMPI_IN_PLACE, buf, count, mpi.type_float, mpi.op_sum, mpi.comm_world);
}

int cmpi_allreduce_sum_double(void *buf, int count) {
    REQUIRE_LOADED();
    return mpi.allreduce(CMPI_IN_PLACE, buf, count, mpi.type_double, mpi.op_sum, mpi.comm_world);
}

int cmpi_allgather_float(const void *send, int count, void *recv) {
    REQUIRE_LOADED();
    return mpi.allgather(send, count, mpi.type_float, recv, count, mpi.type_float, mpi.comm_world);
}

int cmpi_allgather_int(const void *send, int count, void *recv) {
    REQUIRE_LOADED();
    return mpi.allgather(send, count, mpi.type_int, recv, count, mpi.type_int, mpi.comm_world);
}

int cmpi_allgatherv_float(const void *send, int count, void *recv, const int *counts, const int *displs) {
    REQUIRE_LOADED();
    return mpi.allgatherv(send, count, mpi.type_float, recv, counts, displs, mpi.type_float, mpi.comm_world);
}

int cmpi_bcast_float(void *buf, int count, int root) {
    REQUIRE_LOADED();
    return mpi.bcast(buf, count, mpi.type_float, root, mpi.comm_world);
}

int cmpi_barrier(void) { REQUIRE_LOADED(); return mpi.barrier(mpi.comm_world); }

int cmpi_processor_name(char *name, size_t len) {
    REQUIRE_LOADED();
    char text[CMPI_MAX_STRING + 1] = "";
    int used = 0;
    int status = mpi.get_processor_name(text, &used);
    if (status == 0) {
        text[used >= 0 && used <= CMPI_MAX_STRING ? used : CMPI_MAX_STRING] = '\0';
        copy_text(name, len, text);
    }
    return status;
}

void cmpi_error_string(int code, char *buf, size_t len) {
    if (mpi.library == NULL) {
        copy_text(buf, len, code == CMPI_NOT_LOADED ? "libmpi is not loaded" : "unknown MPI error (libmpi is not loaded)");
        return;
    }
    char text[CMPI_MAX_STRING + 1] = "";
    int used = 0;
    if (mpi.error_string(code, text, &used) != 0) {
        char fallback[64];
        snprintf(fallback, sizeof fallback, "unknown MPI error code %d", code);
        copy_text(buf, len, fallback);
        return;
    }
    text[used >= 0 && used <= CMPI_MAX_STRING ? used : CMPI_MAX_STRING] = '\0';
    copy_text(buf, len, text);
}

int cmpi_finalize(void) {
    REQUIRE_LOADED();
    if (mpi.finalized) return 0;
    mpi.finalized = 1;
    return mpi.finalize();
}

int cmpi_finalized(void) { return mpi.finalized; }

int cmpi_abort(int code) {
    REQUIRE_LOADED();
    return mpi.abort_(mpi.comm_world, code);
}

// MPI_STATUS_IGNORE is ((MPI_Status *) 0) in Open MPI's mpi.h.
int cmpi_iallreduce_sum_float(void *buf, int count, void **request) {
    REQUIRE_LOADED();
    return mpi.iallreduce(CMPI_IN_PLACE, buf, count, mpi.type_float, mpi.op_sum, mpi.comm_world, (MPI_Request *)request);
}

int cmpi_wait(void **request) {
    REQUIRE_LOADED();
    return mpi.wait((MPI_Request *)request, NULL);
}

int cmpi_test(void **request, int *done) {
    REQUIRE_LOADED();
    return mpi.test((MPI_Request *)request, done, NULL);
}
