/*
 * mpich_info: what MPICH the APP carries, read from the library itself (the APP has no
 * mpichversion, as an Open MPI APP has no ompi_info). Needs no launcher: MPI_Get_version and
 * MPI_Get_library_version may be called before MPI_Init (MPI-3.1, section 8.1.1). Prints one
 *   MPICH_INFO header_version="..." library_version="..." device="..." standard="M.m" configure="..."
 * record: header_version is mpi.h's MPICH_VERSION (what the programs were compiled against),
 * the others come from the shared library loaded at run time. Exit 1 when this is not MPICH.
 */
#include <mpi.h>
#include <stdio.h>
#include <string.h>

/* The value of the library-version line starting with `key` ("MPICH Device:"), without
 * leading blanks, double quotes replaced (the record quotes it); "unknown" when absent. */
static void field(const char *text, const char *key, char *out, size_t size)
{
    const char *line = strstr(text, key);
    size_t n = 0;
    if (line == NULL) {
        snprintf(out, size, "unknown");
        return;
    }
    line += strlen(key);
    line += strspn(line, " \t");
    for (; line[n] != '\0' && line[n] != '\n' && line[n] != '\r' && n + 1 < size; n++) {
        out[n] = line[n] == '"' ? '\'' : line[n];
    }
    out[n] = '\0';
}

int main(void)
{
    char text[MPI_MAX_LIBRARY_VERSION_STRING];
    char version[256], device[256], configure[1024];
    int len = 0, major = 0, minor = 0;

    MPI_Get_version(&major, &minor);
    MPI_Get_library_version(text, &len);
    if (strstr(text, "MPICH Version:") == NULL) {
        fprintf(stderr, "mpich_info: the MPI library is not MPICH\n");
        return 1;
    }
    field(text, "MPICH Version:", version, sizeof version);
    field(text, "MPICH Device:", device, sizeof device);
    field(text, "MPICH configure:", configure, sizeof configure);
    printf("MPICH_INFO header_version=\"%s\" library_version=\"%s\" device=\"%s\" standard=\"%d.%d\" "
           "configure=\"%s\"\n",
           MPICH_VERSION, version, device, major, minor, configure);
    return 0;
}
