/*
 * pgsniff-capture: pgsniff's capture process (src/capture/live-source.ts runs it). It only moves
 * packets from the kernel into pcap files, which pgsniff reads behind it, as Wireshark reads
 * what dumpcap writes. It speaks tcpdump's dialect (the file rotation of -C, "listening on"
 * once the handle is open, tcpdump's statistics line on SIGUSR1 and at exit), so pgsniff can
 * use tcpdump instead where this is not built.
 *
 * Why not tcpdump itself: tcpdump's only low-latency setting, --immediate-mode, makes libpcap
 * use TPACKET_V2, whose ring is made of fixed slots of the snaplen's size: a 32 MiB buffer holds
 * 128 packets of a 262,144-byte snaplen, and a capture process descheduled for a few tens of
 * milliseconds on a loaded machine makes the kernel drop. Without immediate mode tcpdump keeps a
 * 1 s read timeout, so a packet can wait a second before pgsniff sees it. This keeps TPACKET_V3
 * (blocks packed with packets, the whole buffer usable) with a short block timeout instead.
 *
 * Usage: pgsniff-capture IFACE SNAPLEN BUFFER_BYTES TIMEOUT_MS FILE_BYTES PATH FILTER
 * Files: PATH, then PATH1, PATH2, ... once a file holds FILE_BYTES.
 */
#include <errno.h>
#include <pcap.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

static pcap_t *pd;
static pcap_dumper_t *dumper;
static volatile sig_atomic_t want_stats, want_stop;
static unsigned long captured;
static unsigned long long written;

static void on_usr1(int sig) {
  (void)sig;
  want_stats = 1;
  pcap_breakloop(pd);
}

static void on_stop(int sig) {
  (void)sig;
  want_stop = 1;
  pcap_breakloop(pd);
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes) {
  (void)user;
  pcap_dump((u_char *)dumper, h, bytes);
  captured++;
  written += 16 + h->caplen;
}

/* tcpdump's one-line form, which pgsniff parses for both tools. */
static void print_stats(void) {
  struct pcap_stat st;
  if (pcap_stats(pd, &st) < 0) {
    fprintf(stderr, "pgsniff-capture: pcap_stats: %s\n", pcap_geterr(pd));
    return;
  }
  fprintf(stderr, "pgsniff-capture: %lu packets captured, %u packets received by filter, %u packets dropped by kernel, %u packets dropped by interface\n",
          captured, st.ps_recv, st.ps_drop, st.ps_ifdrop);
  fflush(stderr);
}

static void handle(int sig, void (*fn)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = fn;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv) {
  char err[PCAP_ERRBUF_SIZE];
  if (argc != 8) {
    fprintf(stderr, "usage: pgsniff-capture IFACE SNAPLEN BUFFER_BYTES TIMEOUT_MS FILE_BYTES PATH FILTER\n");
    return 2;
  }
#ifdef __linux__
  /* Never outlive pgsniff: if pgsniff died before the request took effect, the parent is no
   * longer the one pgsniff named (comparing with 1 would fail where pgsniff is itself pid 1,
   * as the only process of a container). */
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  const char *parent = getenv("PGSNIFF_CAPTURE_PARENT");
  if (parent != NULL && (pid_t)atol(parent) != getppid()) return 1;
#endif
  const char *iface = argv[1];
  int snaplen = atoi(argv[2]);
  int buffer = atoi(argv[3]);
  int timeout = atoi(argv[4]);
  unsigned long long file_bytes = strtoull(argv[5], NULL, 10);
  const char *path = argv[6];
  const char *filter = argv[7];

  pd = pcap_create(iface, err);
  if (pd == NULL) {
    fprintf(stderr, "pgsniff-capture: %s\n", err);
    return 1;
  }
  pcap_set_snaplen(pd, snaplen);
  pcap_set_buffer_size(pd, buffer);
  pcap_set_timeout(pd, timeout);
  int rc = pcap_activate(pd);
  if (rc < 0) {
    /* pcap_geterr holds the detail (e.g. "socket: Operation not permitted"). */
    fprintf(stderr, "pgsniff-capture: %s: %s\n(%s)\n", iface, pcap_statustostr(rc), pcap_geterr(pd));
    return 1;
  }
  struct bpf_program prog;
  if (pcap_compile(pd, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
    fprintf(stderr, "pgsniff-capture: %s\n", pcap_geterr(pd));
    return 1;
  }
  if (pcap_setfilter(pd, &prog) < 0) {
    fprintf(stderr, "pgsniff-capture: cannot set the filter: %s\n", pcap_geterr(pd));
    return 1;
  }
  pcap_freecode(&prog);
  dumper = pcap_dump_open(pd, path);
  if (dumper == NULL) {
    fprintf(stderr, "pgsniff-capture: %s\n", pcap_geterr(pd));
    return 1;
  }
  pcap_dump_flush(dumper);
  handle(SIGUSR1, on_usr1);
  handle(SIGINT, on_stop);
  handle(SIGTERM, on_stop);
  handle(SIGPIPE, SIG_IGN);
  int dlt = pcap_datalink(pd);
  const char *name = pcap_datalink_val_to_name(dlt);
  fprintf(stderr, "pgsniff-capture: listening on %s, link-type %s, snapshot length %d bytes\n", iface, name ? name : "unknown", pcap_snapshot(pd));
  fflush(stderr);

  unsigned index = 0;
  size_t plen = strlen(path) + 16;
  char *next = malloc(plen);
  int status = 0;
  while (!want_stop) {
    int n = pcap_dispatch(pd, -1, on_packet, NULL);
    if (n == PCAP_ERROR) {
      fprintf(stderr, "pgsniff-capture: %s\n", pcap_geterr(pd));
      status = 1;
      break;
    }
    /* One write per batch: the packets the kernel handed over together reach the file together. */
    if (pcap_dump_flush(dumper) != 0) {
      fprintf(stderr, "pgsniff-capture: writing %s: %s\n", path, strerror(errno));
      status = 1;
      break;
    }
    if (want_stats) {
      want_stats = 0;
      print_stats();
    }
    if (written >= file_bytes) {
      /* Closed before the next exists: a reader that sees the next file knows this one is complete. */
      pcap_dump_close(dumper);
      snprintf(next, plen, "%s%u", path, ++index);
      dumper = pcap_dump_open(pd, next);
      if (dumper == NULL) {
        fprintf(stderr, "pgsniff-capture: %s\n", pcap_geterr(pd));
        status = 1;
        break;
      }
      pcap_dump_flush(dumper);
      written = 0;
    }
  }
  /* Stopping: what the kernel already holds is written too. */
  if (dumper != NULL && status == 0 && pcap_setnonblock(pd, 1, err) == 0) {
    while (pcap_dispatch(pd, -1, on_packet, NULL) > 0) {
    }
  }
  if (dumper != NULL) pcap_dump_close(dumper);
  print_stats();
  pcap_close(pd);
  free(next);
  return status;
}
