/* An in-memory relay built only from interlink's sans-IO handles: a gateway machine, a
 * listener machine, and WebSocket codecs standing in for sockets. Used by test_sansio.c.
 *
 * The control channel is a pair of codecs (listener end = client, gateway end = server);
 * pump() moves outputs, bytes and events around until nothing moves. Outputs for other
 * connections (upgrades, refusals, HTTP responses) are recorded in `events`. */
#ifndef INTERLINK_SANSIO_WORLD_H
#define INTERLINK_SANSIO_WORLD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interlink.h"

#define WORLD_HOST "127.0.0.1:9090"
#define WORLD_KEY "c2VjcmV0LWtleQ=="
#define WORLD_ORIGIN_MS 1700000000000ULL
#define CONTROL_CONN 1

/* A gateway output for a connection other than the control channel, copied. */
typedef struct {
    interlink_gateway_output_kind kind;
    uint64_t conn, peer;
    bool paired;
    interlink_body_kind body_kind;
    interlink_ws_out_kind ws_kind;
    uint16_t status;
    char reason[256];
    char body[512];
    size_t body_len;
    char via[256];
    char custom_header[64];
} world_event;

typedef struct {
    interlink_gateway_machine *gw;
    interlink_listener_machine *lm;
    interlink_ws_connection *ctl_l; /* control channel, listener end (client) */
    interlink_ws_connection *ctl_g; /* control channel, gateway end (server) */
    uint64_t now;
    world_event events[32];
    int n_events;
    int online, offline, pings_from_gateway;
    char accept_url[2048], accept_id[256];
    int accepts;
    char rendezvous_url[2048], rendezvous_id[256];
    int rendezvous_requests;
    char request_id[256], request_method[16], request_target[256], request_body[512];
    size_t request_body_len;
    int requests;
} world;

/* Splits "ws://host:port/path?query" into host, path and query (query "" when absent). */
static void split_url(const char *url, char *host, char *path, char *query, size_t cap) {
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *slash = strchr(p, '/');
    size_t hlen = slash ? (size_t)(slash - p) : strlen(p);
    snprintf(host, cap, "%.*s", (int)hlen, p);
    const char *rest = slash ? slash : "/";
    const char *q = strchr(rest, '?');
    size_t plen = q ? (size_t)(q - rest) : strlen(rest);
    snprintf(path, cap, "%.*s", (int)plen, rest);
    snprintf(query, cap, "%s", q ? q + 1 : "");
}

static void copy_text(char *dst, size_t cap, const uint8_t *data, size_t len) {
    size_t n = len < cap - 1 ? len : cap - 1;
    if (n) memcpy(dst, data, n);
    dst[n] = '\0';
}

/* Moves every queued byte of `from` into `to`. */
static void world_flush(interlink_ws_connection *from, interlink_ws_connection *to) {
    interlink_bytes out;
    while (interlink_ws_connection_poll_transmit(from, &out) == INTERLINK_RESULT_OK) {
        interlink_ws_connection_feed(to, out.data, out.len);
        interlink_bytes_free(&out);
    }
}

static void world_on_listener_output(world *w, const interlink_listener_output *o) {
    switch (o->kind) {
    case INTERLINK_LISTENER_OUTPUT_KIND_SEND_TEXT:
        interlink_ws_connection_send_text(w->ctl_l, (const char *)o->data, o->data_len);
        break;
    case INTERLINK_LISTENER_OUTPUT_KIND_SEND_BINARY:
        interlink_ws_connection_send_binary(w->ctl_l, o->data, o->data_len);
        break;
    case INTERLINK_LISTENER_OUTPUT_KIND_PING:
        interlink_ws_connection_send_ping(w->ctl_l, NULL, 0);
        break;
    case INTERLINK_LISTENER_OUTPUT_KIND_CLOSE:
        interlink_ws_connection_close(w->ctl_l, o->code, o->reason);
        break;
    case INTERLINK_LISTENER_OUTPUT_KIND_ONLINE:
        w->online++;
        break;
    case INTERLINK_LISTENER_OUTPUT_KIND_OFFLINE:
        w->offline++;
        break;
    case INTERLINK_LISTENER_OUTPUT_KIND_ACCEPT:
        snprintf(w->accept_url, sizeof w->accept_url, "%s", o->url);
        snprintf(w->accept_id, sizeof w->accept_id, "%s", o->id);
        w->accepts++;
        break;
    case INTERLINK_LISTENER_OUTPUT_KIND_RENDEZVOUS_REQUEST:
        snprintf(w->rendezvous_url, sizeof w->rendezvous_url, "%s", o->url);
        snprintf(w->rendezvous_id, sizeof w->rendezvous_id, "%s", o->id);
        w->rendezvous_requests++;
        break;
    case INTERLINK_LISTENER_OUTPUT_KIND_REQUEST:
        snprintf(w->request_id, sizeof w->request_id, "%s", o->id);
        snprintf(w->request_method, sizeof w->request_method, "%s", o->method);
        snprintf(w->request_target, sizeof w->request_target, "%s", o->target);
        copy_text(w->request_body, sizeof w->request_body, o->data, o->data_len);
        w->request_body_len = o->data_len;
        w->requests++;
        break;
    default:
        break;
    }
}

static void world_on_gateway_output(world *w, const interlink_gateway_output *o) {
    if (o->kind == INTERLINK_GATEWAY_OUTPUT_KIND_SEND && o->conn == CONTROL_CONN) {
        switch (o->ws_kind) {
        case INTERLINK_WS_OUT_KIND_TEXT:
            interlink_ws_connection_send_text(w->ctl_g, (const char *)o->data, o->data_len);
            break;
        case INTERLINK_WS_OUT_KIND_BINARY:
            interlink_ws_connection_send_binary(w->ctl_g, o->data, o->data_len);
            break;
        case INTERLINK_WS_OUT_KIND_PING:
            w->pings_from_gateway++;
            interlink_ws_connection_send_ping(w->ctl_g, NULL, 0);
            break;
        case INTERLINK_WS_OUT_KIND_CLOSE:
            interlink_ws_connection_close(w->ctl_g, o->close_code, o->reason);
            break;
        default:
            break;
        }
        return;
    }
    if (w->n_events >= 32) return;
    world_event *e = &w->events[w->n_events++];
    memset(e, 0, sizeof *e);
    e->kind = o->kind;
    e->conn = o->conn;
    e->peer = o->peer;
    e->paired = o->paired;
    e->status = o->status;
    e->body_kind = o->body_kind;
    e->ws_kind = o->ws_kind;
    if (o->reason) snprintf(e->reason, sizeof e->reason, "%s", o->reason);
    copy_text(e->body, sizeof e->body, o->data, o->data_len);
    e->body_len = o->data_len;
    for (size_t i = 0; i < o->headers_len; i++) {
        if (strcmp(o->headers[i].name, "Via") == 0)
            snprintf(e->via, sizeof e->via, "%s", o->headers[i].value);
        if (strcmp(o->headers[i].name, "x-from") == 0)
            snprintf(e->custom_header, sizeof e->custom_header, "%s", o->headers[i].value);
    }
}

/* Moves everything around until nothing moves. */
static void world_pump(world *w) {
    int moved;
    do {
        moved = 0;
        interlink_listener_output lo;
        while (interlink_listener_machine_poll_output(w->lm, &lo) == INTERLINK_RESULT_OK) {
            moved = 1;
            world_on_listener_output(w, &lo);
        }
        world_flush(w->ctl_l, w->ctl_g);
        interlink_ws_event ev;
        while (interlink_ws_connection_poll_event(w->ctl_g, &ev) == INTERLINK_RESULT_OK) {
            moved = 1;
            if (ev.kind == INTERLINK_WS_EVENT_KIND_TEXT)
                interlink_gateway_machine_handle_text(w->gw, CONTROL_CONN, (const char *)ev.data,
                                                      ev.data_len, w->now);
            else if (ev.kind == INTERLINK_WS_EVENT_KIND_BINARY)
                interlink_gateway_machine_handle_binary(w->gw, CONTROL_CONN, ev.data, ev.data_len,
                                                        true, w->now);
            else if (ev.kind == INTERLINK_WS_EVENT_KIND_CLOSE)
                interlink_gateway_machine_handle_closed(w->gw, CONTROL_CONN, ev.close_code, w->now);
            else
                interlink_gateway_machine_handle_keepalive(w->gw, CONTROL_CONN, w->now);
        }
        interlink_gateway_output go;
        while (interlink_gateway_machine_poll_output(w->gw, &go) == INTERLINK_RESULT_OK) {
            moved = 1;
            world_on_gateway_output(w, &go);
        }
        world_flush(w->ctl_g, w->ctl_l);
        while (interlink_ws_connection_poll_event(w->ctl_l, &ev) == INTERLINK_RESULT_OK) {
            moved = 1;
            if (ev.kind == INTERLINK_WS_EVENT_KIND_TEXT)
                interlink_listener_machine_handle_text(w->lm, (const char *)ev.data, ev.data_len,
                                                       w->now);
            else if (ev.kind == INTERLINK_WS_EVENT_KIND_BINARY)
                interlink_listener_machine_handle_binary(w->lm, ev.data, ev.data_len, true, w->now);
            else if (ev.kind == INTERLINK_WS_EVENT_KIND_CLOSE)
                interlink_listener_machine_handle_closed(w->lm, ev.close_code, w->now);
            else if (ev.kind == INTERLINK_WS_EVENT_KIND_PONG)
                interlink_listener_machine_handle_pong(w->lm, w->now);
        }
        /* Pongs the listener end queued for the gateway's pings. */
        world_flush(w->ctl_l, w->ctl_g);
    } while (moved);
}

/* Finds the last recorded event of `kind` for `conn`, or NULL. */
static world_event *world_find(world *w, interlink_gateway_output_kind kind, uint64_t conn) {
    for (int i = w->n_events - 1; i >= 0; i--)
        if (w->events[i].kind == kind && w->events[i].conn == conn) return &w->events[i];
    return NULL;
}

/* Upgrade request of `url` on connection `conn` with `headers` plus Host. */
static interlink_result world_upgrade(world *w, uint64_t conn, const char *url,
                                      const interlink_header *headers, size_t n) {
    char host[2048], path[2048], query[2048];
    split_url(url, host, path, query, sizeof host);
    interlink_header all[8];
    size_t count = 0;
    all[count++] = (interlink_header){"Host", WORLD_HOST};
    all[count++] = (interlink_header){"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="};
    for (size_t i = 0; i < n && count < 8; i++) all[count++] = headers[i];
    return interlink_gateway_machine_handle_upgrade(w->gw, conn, path, query[0] ? query : NULL,
                                                    all, count, WORLD_HOST, w->now);
}

static const char *world_connection_string(void) {
    return "Endpoint=sb://127.0.0.1:9090/;SharedAccessKeyName=root;SharedAccessKey=" WORLD_KEY;
}

/* A gateway (rule "root" with all rights, hybrid connection "hc1"), a listener machine for
 * hc1 and the control channel codecs. Returns 0 on success. */
static int world_init(world *w) {
    memset(w, 0, sizeof *w);
    interlink_sas_rule rule = {"root", WORLD_KEY, INTERLINK_RIGHTS_ALL};
    interlink_hybrid_connection hc = {"hc1", true};
    interlink_limits limits;
    if (interlink_limits_default(&limits) != INTERLINK_RESULT_OK) return 1;
    limits.keepalive_interval_ms = 20000;
    interlink_gateway_machine_config gc = {
        .rules = &rule,
        .rules_len = 1,
        .hybrid_connections = &hc,
        .hybrid_connections_len = 1,
        .limits = &limits,
        .public_base_url = NULL,
        .unix_origin_ms = WORLD_ORIGIN_MS,
        .seed = 42,
    };
    if (interlink_gateway_machine_new(&gc, &w->gw) != INTERLINK_RESULT_OK) return 1;
    interlink_listener_machine_config lc;
    memset(&lc, 0, sizeof lc);
    lc.connection_string = world_connection_string();
    lc.entity_path = "hc1";
    lc.tracking_id = "c-listener";
    lc.unix_origin_ms = WORLD_ORIGIN_MS;
    if (interlink_listener_machine_new(&lc, &w->lm) != INTERLINK_RESULT_OK) return 1;
    if (interlink_ws_connection_new(true, 1, &w->ctl_l) != INTERLINK_RESULT_OK) return 1;
    if (interlink_ws_connection_new(false, 2, &w->ctl_g) != INTERLINK_RESULT_OK) return 1;
    return 0;
}

static void world_free(world *w) {
    interlink_ws_connection_free(w->ctl_l);
    interlink_ws_connection_free(w->ctl_g);
    interlink_listener_machine_free(w->lm);
    interlink_gateway_machine_free(w->gw);
}

/* Connects the listener's control channel as CONTROL_CONN. Returns 0 when online. */
static int world_connect_listener(world *w) {
    if (interlink_listener_machine_start(w->lm, w->now) != INTERLINK_RESULT_OK) return 1;
    interlink_listener_output o;
    if (interlink_listener_machine_poll_output(w->lm, &o) != INTERLINK_RESULT_OK) return 2;
    if (o.kind != INTERLINK_LISTENER_OUTPUT_KIND_CONNECT) return 3;
    if (world_upgrade(w, CONTROL_CONN, o.url, o.headers, o.headers_len) != INTERLINK_RESULT_OK)
        return 4;
    interlink_gateway_output g;
    if (interlink_gateway_machine_poll_output(w->gw, &g) != INTERLINK_RESULT_OK) return 5;
    if (g.kind != INTERLINK_GATEWAY_OUTPUT_KIND_UPGRADE || g.conn != CONTROL_CONN || g.paired)
        return 6;
    interlink_listener_machine_handle_connected(w->lm, w->now);
    world_pump(w);
    return w->online == 1 ? 0 : 7;
}

#endif
