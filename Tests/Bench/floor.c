// Copied from ../shared/bench/floor.c (the benchmark anchors beside the project), so figures.py runs from a clean clone.
// Minimal LSP-framed JSON-RPC responder: the floor for spawn -> initialize and per-request cost.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static char buf[1<<20]; static size_t len = 0;
static void reply(const char *body) {
  char hdr[64]; int n = snprintf(hdr, sizeof hdr, "Content-Length: %zu\r\n\r\n", strlen(body));
  char out[4096]; memcpy(out, hdr, n); memcpy(out+n, body, strlen(body));
  write(1, out, n + strlen(body));
}
int main(void) {
  for (;;) {
    ssize_t r = read(0, buf+len, sizeof buf - len); if (r <= 0) return 0; len += r;
    for (;;) {
      char *h = memmem(buf, len, "\r\n\r\n", 4); if (!h) break;
      char *cl = strstr(buf, "Content-Length:"); size_t blen = cl ? strtoul(cl+15, 0, 10) : 0;
      size_t total = (h - buf) + 4 + blen; if (len < total) break;
      char *body = h + 4; char saved = body[blen]; body[blen] = 0;
      char *idp = strstr(body, "\"id\":"); char id[64] = "null";
      if (idp) { idp += 5; size_t k = strcspn(idp, ",}"); if (k > 60) k = 60; memcpy(id, idp, k); id[k] = 0; }
      char out[512];
      if (strstr(body, "\"method\":\"initialize\"")) snprintf(out, sizeof out, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":{\"capabilities\":{}}}", id);
      else if (strstr(body, "\"method\":\"shutdown\"")) snprintf(out, sizeof out, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":null}", id);
      else if (strstr(body, "\"method\":\"exit\"")) return 0;
      else if (idp) snprintf(out, sizeof out, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":-32601,\"message\":\"Method not found\"}}", id);
      else out[0] = 0;
      body[blen] = saved;
      if (out[0]) reply(out);
      memmove(buf, buf+total, len-total); len -= total;
    }
  }
}
