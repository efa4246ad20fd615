/* The C runner of the parity scenarios (tests/scenarios/NAME.json, format in its README): each
 * scenario runs against a fresh gateway with a C listener and C senders, all through
 * interlink's convenience C API; the outcome goes to OUT_DIR/<name>.json for
 * tests/scenarios/compare.py.
 *
 * Usage: scenarios SCENARIO_DIR OUT_DIR */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "interlink.h"
#include "mini_json.h"

#define WAIT_MS 10000
#define MAX_SOCKETS 32

/* ----- listener side ------------------------------------------------------------------ */

typedef struct {
    const json_value *routes;
    const char *hc;
    uint16_t reject_status; /* 0: accept WebSockets (echo) */
    const char *reject_description;
} listener_spec;

static uint8_t *pattern(size_t n) {
    uint8_t *p = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i % 251);
    return p;
}

/* Sets the body a route or step describes (`body` text or `body_pattern`); 1 if it has one. */
static int body_of(const json_value *spec, uint8_t **data, size_t *len) {
    const json_value *text = json_get(spec, "body");
    if (text && text->type == JSON_STRING) {
        *len = strlen(text->string);
        *data = malloc(*len ? *len : 1);
        memcpy(*data, text->string, *len);
        return 1;
    }
    const json_value *n = json_get(spec, "body_pattern");
    if (n && n->type == JSON_NUMBER) {
        *len = (size_t)n->number;
        *data = pattern(*len);
        return 1;
    }
    *data = NULL;
    *len = 0;
    return 0;
}

static void serve_route(void *user_data, const interlink_http_request *req,
                        interlink_http_response_writer *resp) {
    const listener_spec *spec = user_data;
    /* The route path is the request path after "/{hc}", without the query. */
    size_t hc_len = strlen(spec->hc);
    const char *path = req->target;
    if (path[0] == '/' && strncmp(path + 1, spec->hc, hc_len) == 0) path += 1 + hc_len;
    else path = "";
    size_t path_len = strcspn(path, "?");
    const char *route_path = path_len ? path : "/";
    if (!path_len) path_len = 1;
    const json_value *route = NULL;
    for (size_t i = 0; spec->routes && i < spec->routes->count; i++) {
        const json_value *r = &spec->routes->items[i];
        const char *m = json_string_or(json_get(r, "method"), "");
        const char *p = json_string_or(json_get(r, "path"), "");
        if (strcmp(m, req->method) == 0 && strlen(p) == path_len &&
            strncmp(p, route_path, path_len) == 0) {
            route = r;
            break;
        }
    }
    if (!route) {
        interlink_http_response_writer_set_status(resp, 404, NULL);
        interlink_http_response_writer_set_body(resp, (const uint8_t *)"no route", 8);
        return;
    }
    interlink_http_response_writer_set_status(
        resp, (uint16_t)json_number_or(json_get(route, "status"), 200),
        json_string_or(json_get(route, "reason"), NULL));
    const json_value *headers = json_get(route, "headers");
    for (size_t i = 0; headers && headers->type == JSON_OBJECT && i < headers->count; i++)
        interlink_http_response_writer_add_header(resp, headers->keys[i],
                                                  json_string_or(&headers->items[i], ""));
    const json_value *echo = json_get(route, "echo");
    if (echo && echo->type == JSON_BOOL && echo->boolean) {
        interlink_http_response_writer_set_body(resp, req->body, req->body_len);
        return;
    }
    uint8_t *body;
    size_t len;
    body_of(route, &body, &len);
    interlink_http_response_writer_set_body(resp, body, len);
    free(body);
}

static uint16_t reject_filter(void *user_data, const interlink_accept_request *req,
                              const char **description) {
    (void)req;
    const listener_spec *spec = user_data;
    *description = spec->reject_description;
    return spec->reject_status;
}

static void *echo_socket(void *arg) {
    interlink_websocket *ws = arg;
    interlink_ws_message m;
    while (interlink_websocket_recv(ws, WAIT_MS, &m) == INTERLINK_RESULT_OK) {
        interlink_result r = INTERLINK_RESULT_OK;
        if (m.kind == INTERLINK_WS_MESSAGE_KIND_TEXT)
            r = interlink_websocket_send_text(ws, (const char *)m.data.data, m.data.len);
        else if (m.kind == INTERLINK_WS_MESSAGE_KIND_BINARY)
            r = interlink_websocket_send_binary(ws, m.data.data, m.data.len);
        interlink_bytes_free(&m.data);
        if (m.kind == INTERLINK_WS_MESSAGE_KIND_CLOSE || r != INTERLINK_RESULT_OK) break;
    }
    interlink_websocket_free(ws);
    return NULL;
}

typedef struct {
    interlink_listener *listener;
    pthread_t threads[MAX_SOCKETS];
    int count;
} acceptor_state;

static void *acceptor(void *arg) {
    acceptor_state *a = arg;
    interlink_websocket *ws = NULL;
    while (interlink_listener_accept(a->listener, 0, &ws) == INTERLINK_RESULT_OK) {
        if (a->count < MAX_SOCKETS && pthread_create(&a->threads[a->count], NULL, echo_socket, ws) == 0)
            a->count++;
        else
            interlink_websocket_free(ws);
    }
    return NULL;
}

/* ----- sender side -------------------------------------------------------------------- */

/* Appends to a growing outcome text. */
typedef struct {
    char *text;
    size_t len, cap;
} buffer;

static void append(buffer *b, const char *s) {
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->text = realloc(b->text, b->cap);
    }
    memcpy(b->text + b->len, s, n + 1);
    b->len += n;
}

static int http_step(const char *cs, const char *hc, const json_value *spec,
                     const json_value *expect, buffer *out) {
    const json_value *hs = json_get(spec, "headers");
    size_t n = hs && hs->type == JSON_OBJECT ? hs->count : 0;
    interlink_header headers[32];
    if (n > 32) n = 32;
    for (size_t i = 0; i < n; i++) {
        headers[i].name = hs->keys[i];
        headers[i].value = json_string_or(&hs->items[i], "");
    }
    uint8_t *body;
    size_t body_len;
    body_of(spec, &body, &body_len);
    interlink_http_response r;
    memset(&r, 0, sizeof r);
    interlink_result rc = interlink_http_send(cs, hc, json_string_or(json_get(spec, "method"), "GET"),
                                              json_string_or(json_get(spec, "path"), "/"), headers, n,
                                              body, body_len, WAIT_MS, &r);
    free(body);
    if (rc != INTERLINK_RESULT_OK)
        fprintf(stderr, "  http step: %s: %s\n", interlink_result_name(rc), interlink_last_error_message());
    int ok = rc == INTERLINK_RESULT_OK &&
             json_number_or(json_get(expect, "status"), -1) == (double)r.status;
    const json_value *want_headers = json_get(expect, "headers");
    for (size_t i = 0; want_headers && i < want_headers->count; i++) {
        int found = 0;
        for (size_t j = 0; j < r.headers_len; j++)
            if (strcasecmp(r.headers[j].name, want_headers->keys[i]) == 0 &&
                strcmp(r.headers[j].value, json_string_or(&want_headers->items[i], "")) == 0)
                found = 1;
        ok = ok && found;
    }
    uint8_t *want;
    size_t want_len;
    if (body_of(expect, &want, &want_len))
        ok = ok && want_len == r.body.len && (want_len == 0 || memcmp(want, r.body.data, want_len) == 0);
    free(want);
    char line[160];
    snprintf(line, sizeof line, "{\"body_len\":%zu,\"kind\":\"http\",\"ok\":%s,\"status\":%u}",
             r.body.len, ok ? "true" : "false", r.status);
    append(out, line);
    interlink_http_response_free(&r);
    return ok;
}

static int websocket_step(const char *cs, const char *hc, const json_value *spec,
                          const json_value *expect, buffer *out) {
    const char *path = json_string_or(json_get(spec, "path"), "/");
    while (*path == '/') path++;
    interlink_websocket *ws = NULL;
    interlink_result rc = interlink_websocket_connect(cs, hc, *path ? path : NULL, WAIT_MS, &ws);
    const json_value *want_refused = json_get(expect, "refused");
    char line[160];
    if (rc != INTERLINK_RESULT_OK) {
        uint16_t status = interlink_last_error_status();
        int ok = want_refused ? json_number_or(want_refused, -1) == (double)status : status == 0;
        if (status)
            snprintf(line, sizeof line, "{\"kind\":\"websocket\",\"ok\":%s,\"received\":0,\"refused\":%u}",
                     ok ? "true" : "false", status);
        else
            snprintf(line, sizeof line, "{\"kind\":\"websocket\",\"ok\":%s,\"received\":0,\"refused\":null}",
                     ok ? "true" : "false");
        append(out, line);
        return ok;
    }
    const json_value *texts = json_get(spec, "send");
    const json_value *want_texts = json_get(expect, "received");
    size_t n_texts = texts ? texts->count : 0;
    size_t n_want = want_texts ? want_texts->count : 0;
    int ok = want_refused == NULL && n_texts == n_want;
    int received = 0;
    interlink_ws_message m;
    for (size_t i = 0; i < n_texts; i++) {
        const char *t = json_string_or(&texts->items[i], "");
        interlink_websocket_send_text(ws, t, strlen(t));
        if (interlink_websocket_recv(ws, WAIT_MS, &m) == INTERLINK_RESULT_OK) {
            if (m.kind == INTERLINK_WS_MESSAGE_KIND_TEXT) {
                received++;
                const char *w = i < n_want ? json_string_or(&want_texts->items[i], "") : "";
                ok = ok && m.data.len == strlen(w) && memcmp(m.data.data, w, m.data.len) == 0;
            } else {
                ok = 0;
            }
            interlink_bytes_free(&m.data);
        } else {
            ok = 0;
        }
    }
    const json_value *bin = json_get(spec, "send_binary_pattern");
    const json_value *want_bin = json_get(expect, "received_binary_pattern");
    if (bin) {
        size_t len = (size_t)json_number_or(bin, 0);
        uint8_t *data = pattern(len);
        interlink_websocket_send_binary(ws, data, len);
        free(data);
        if (interlink_websocket_recv(ws, WAIT_MS, &m) == INTERLINK_RESULT_OK) {
            if (m.kind == INTERLINK_WS_MESSAGE_KIND_BINARY) {
                received++;
                size_t want_len = (size_t)json_number_or(want_bin, -1);
                uint8_t *want = pattern(want_len);
                ok = ok && want_bin && m.data.len == want_len && memcmp(m.data.data, want, want_len) == 0;
                free(want);
            } else {
                ok = 0;
            }
            interlink_bytes_free(&m.data);
        } else {
            ok = 0;
        }
    } else if (want_bin) {
        ok = 0;
    }
    interlink_websocket_close(ws, 1000, NULL);
    interlink_websocket_free(ws);
    snprintf(line, sizeof line, "{\"kind\":\"websocket\",\"ok\":%s,\"received\":%d,\"refused\":null}",
             ok ? "true" : "false", received);
    append(out, line);
    return ok;
}

/* ----- scenarios ---------------------------------------------------------------------- */

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    size_t got = fread(text, 1, (size_t)n, f);
    text[got] = '\0';
    fclose(f);
    return text;
}

/* Runs one scenario, writes its outcome; returns 1 when every step held. */
static int run_scenario(const json_value *s, const char *out_dir) {
    const char *name = json_string_or(json_get(s, "name"), "unnamed");
    const char *hc = json_string_or(json_get(s, "hybrid_connection"), "");
    interlink_gateway *gw = NULL;
    char *cs = NULL;
    if (interlink_gateway_start(NULL, NULL, NULL, &gw) != INTERLINK_RESULT_OK ||
        interlink_gateway_connection_string(gw, &cs) != INTERLINK_RESULT_OK) {
        fprintf(stderr, "%s: gateway: %s\n", name, interlink_last_error_message());
        interlink_gateway_free(gw);
        return 0;
    }
    const json_value *lspec = json_get(s, "listener");
    listener_spec spec = {NULL, hc, 0, ""};
    acceptor_state acc;
    memset(&acc, 0, sizeof acc);
    pthread_t accept_thread;
    int all_ok = 1;
    if (lspec) {
        spec.routes = json_get(lspec, "routes");
        const json_value *ws = json_get(lspec, "websocket");
        if (strcmp(json_string_or(json_get(ws, "mode"), "echo"), "reject") == 0) {
            spec.reject_status = (uint16_t)json_number_or(json_get(ws, "status"), 403);
            spec.reject_description = json_string_or(json_get(ws, "description"), "");
        }
        if (interlink_listener_bind(cs, hc, serve_route, &spec, &acc.listener) != INTERLINK_RESULT_OK) {
            fprintf(stderr, "%s: listener: %s\n", name, interlink_last_error_message());
            all_ok = 0;
        } else {
            if (spec.reject_status)
                interlink_listener_set_accept_filter(acc.listener, reject_filter, &spec);
            pthread_create(&accept_thread, NULL, acceptor, &acc);
        }
    }
    buffer out = {NULL, 0, 0};
    append(&out, "{\"name\":\"");
    append(&out, name);
    append(&out, "\",\"steps\":[");
    const json_value *steps = json_get(s, "steps");
    for (size_t i = 0; steps && i < steps->count; i++) {
        const json_value *step = &steps->items[i];
        const json_value *expect = json_get(step, "expect");
        const json_value *http = json_get(step, "http");
        const json_value *ws = http ? NULL : json_get(step, "websocket");
        const json_value *spec_of_step = http ? http : ws;
        const char *target = json_string_or(json_get(spec_of_step, "hybrid_connection"), hc);
        if (i) append(&out, ",");
        int ok = http ? http_step(cs, target, http, expect, &out)
                      : websocket_step(cs, target, ws, expect, &out);
        if (!ok) fprintf(stderr, "%s: step %zu failed\n", name, i);
        all_ok = all_ok && ok;
    }
    append(&out, "]}\n");
    if (acc.listener) {
        interlink_listener_close(acc.listener);
        pthread_join(accept_thread, NULL);
        for (int i = 0; i < acc.count; i++) pthread_join(acc.threads[i], NULL);
        interlink_listener_free(acc.listener);
    }
    interlink_gateway_free(gw);
    interlink_string_free(cs);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.json", out_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fputs(out.text, f) < 0) {
        fprintf(stderr, "%s: cannot write %s\n", name, path);
        all_ok = 0;
    }
    if (f) fclose(f);
    printf("%s %s", all_ok ? "ok  " : "FAIL", out.text);
    free(out.text);
    return all_ok;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s SCENARIO_DIR OUT_DIR\n", argv[0]);
        return 2;
    }
    if (mkdir(argv[2], 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "cannot create %s\n", argv[2]);
        return 2;
    }
    DIR *dir = opendir(argv[1]);
    if (!dir) {
        fprintf(stderr, "cannot open %s\n", argv[1]);
        return 2;
    }
    char *files[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) && n < 256) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".json") == 0) files[n++] = strdup(e->d_name);
    }
    closedir(dir);
    qsort(files, (size_t)n, sizeof *files, compare_names);
    int passed = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], files[i]);
        char *text = read_file(path);
        json_value s;
        memset(&s, 0, sizeof s);
        if (!text || json_parse(text, &s) != 0) {
            fprintf(stderr, "%s: cannot read or parse\n", files[i]);
            failed++;
        } else if (run_scenario(&s, argv[2])) {
            passed++;
        } else {
            failed++;
        }
        json_free(&s);
        free(text);
        free(files[i]);
    }
    printf("scenarios (C): %d passed, %d failed\n", passed, failed);
    return failed || n == 0 ? 1 : 0;
}
