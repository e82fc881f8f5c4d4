/* Notify hook for the benchmark: its first action reads CLOCK_REALTIME, then it appends
 * "SECONDS.MICROS STATE NODE" to the events file named at compile time (EVENTS). A
 * compiled hook keeps the shell's start-up time out of "VIP added -> hook started". */
#include <stdio.h>
#include <time.h>

int main(int argc, char **argv) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (argc < 3) return 2;
    FILE *f = fopen(EVENTS, "a");
    if (!f) return 1;
    fprintf(f, "%lld.%06ld %s %s\n", (long long)ts.tv_sec, ts.tv_nsec / 1000, argv[1], argv[2]);
    return fclose(f) != 0;
}
