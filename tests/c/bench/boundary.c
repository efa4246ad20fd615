/* Boundary benchmark (C): the sans-IO rendezvous loop every language runs on one gateway
 * machine with one registered listener (its listen upgrade happens at setup).
 *
 * Per iteration:
 *   handle_upgrade(connect, new conn id) -> drain poll_output -> take the accept text ->
 *   extract the sb-hc-id= value from its address -> handle_upgrade(accept with that id) ->
 *   drain poll_output (2 upgrades).
 * The hybrid connection "bench" is anonymous (senders carry no token); the listener's
 * token is created once at setup. Time comes from the monotonic clock.
 *
 * Usage: boundary [N]   (default 100000); prints rendezvous/s. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "interlink.h"

#define HOST "127.0.0.1:9090"
#define KEY "c2VjcmV0LWtleQ=="
#define ORIGIN_MS 1700000000000ULL
#define LISTENER 1

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what, interlink_result r) {
    fprintf(stderr, "%s: %s: %s\n", what, interlink_result_name(r), interlink_last_error_message());
    exit(1);
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 100000;
    interlink_sas_rule rule = {"root", KEY, INTERLINK_RIGHTS_ALL};
    interlink_hybrid_connection hc = {"bench", false};
    interlink_gateway_machine_config config = {&rule, 1, &hc, 1, NULL, NULL, ORIGIN_MS, 7};
    interlink_gateway_machine *gw = NULL;
    interlink_result r = interlink_gateway_machine_new(&config, &gw);
    if (r) die("new", r);

    /* Setup: the listener's control channel. */
    char *token = NULL;
    r = interlink_sas_create_token("http://127.0.0.1:9090/bench", "root", KEY, ORIGIN_MS / 1000 + 86400, &token);
    if (r) die("token", r);
    interlink_header listen_headers[] = {{"Host", HOST}, {"ServiceBusAuthorization", token}};
    r = interlink_gateway_machine_handle_upgrade(gw, LISTENER, "/$hc/bench", "sb-hc-action=listen",
                                                 listen_headers, 2, HOST, 0);
    if (r) die("listen", r);
    interlink_gateway_output out;
    int upgrades = 0;
    while (interlink_gateway_machine_poll_output(gw, &out) == INTERLINK_RESULT_OK)
        upgrades += out.kind == INTERLINK_GATEWAY_OUTPUT_KIND_UPGRADE;
    if (upgrades != 1) {
        fprintf(stderr, "the listener was not accepted\n");
        return 1;
    }

    interlink_header connect_headers[] = {{"Host", HOST}, {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}};
    interlink_header accept_headers[] = {{"Host", HOST}};
    char query[128];
    uint64_t conn = 2;
    long paired = 0;
    double start = seconds();
    for (long i = 0; i < n; i++) {
        uint64_t sender = conn++;
        r = interlink_gateway_machine_handle_upgrade(gw, sender, "/$hc/bench", "sb-hc-action=connect",
                                                     connect_headers, 2, HOST, 1);
        if (r) die("connect", r);
        query[0] = '\0';
        while (interlink_gateway_machine_poll_output(gw, &out) == INTERLINK_RESULT_OK) {
            if (out.kind != INTERLINK_GATEWAY_OUTPUT_KIND_SEND || out.conn != LISTENER) continue;
            /* The accept text: {"accept":{"address":"ws://…?sb-hc-action=accept&sb-hc-id=ID",…}} */
            const char *id = strstr((const char *)out.data, "sb-hc-id=");
            if (!id) break;
            id += 9;
            size_t len = strcspn(id, "&\"");
            snprintf(query, sizeof query, "sb-hc-action=accept&sb-hc-id=%.*s", (int)len, id);
        }
        if (!query[0]) {
            fprintf(stderr, "iteration %ld: no accept\n", i);
            return 1;
        }
        r = interlink_gateway_machine_handle_upgrade(gw, conn++, "/$hc/bench", query, accept_headers, 1, HOST, 1);
        if (r) die("accept", r);
        while (interlink_gateway_machine_poll_output(gw, &out) == INTERLINK_RESULT_OK)
            paired += out.kind == INTERLINK_GATEWAY_OUTPUT_KIND_UPGRADE && out.paired;
    }
    double elapsed = seconds() - start;
    if (paired != 2 * n) {
        fprintf(stderr, "expected %ld paired upgrades, got %ld\n", 2 * n, paired);
        return 1;
    }
    printf("c boundary: %ld rendezvous in %.3f s = %.0f ops/s (%.2f us/op)\n", n, elapsed,
           (double)n / elapsed, elapsed * 1e6 / (double)n);
    interlink_string_free(token);
    interlink_gateway_machine_free(gw);
    return 0;
}
