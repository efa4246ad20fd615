/* Tests of interlink's convenience C API on real sockets (127.0.0.1, OS-chosen port): a
 * gateway, a listener answering HTTP through a C handler and echoing accepted WebSockets
 * in C threads, and senders (interlink_http_send, interlink_websocket_connect). Every wait
 * is bounded. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

#define HC "conv"
#define WAIT_MS 10000

static interlink_gateway *gateway;
static char *connection_string;
static interlink_listener *listener;
static atomic_int handled_requests;

static uint8_t *pattern(size_t n) {
    uint8_t *p = malloc(n ? n : 1);
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i % 251);
    return p;
}

/* Whether the path of `target` (query ignored) is `path`. */
static int path_is(const char *target, const char *path) {
    size_t n = strcspn(target, "?");
    return n == strlen(path) && strncmp(target, path, n) == 0;
}

/* The listener's HTTP routes. */
static void handler(void *user_data, const interlink_http_request *req,
                    interlink_http_response_writer *resp) {
    atomic_fetch_add((atomic_int *)user_data, 1);
    if (strcmp(req->method, "GET") == 0 && path_is(req->target, "/" HC "/hello")) {
        interlink_http_response_writer_add_header(resp, "x-from", "c");
        interlink_http_response_writer_set_body(resp, (const uint8_t *)"hello from C", 12);
    } else if (strcmp(req->method, "POST") == 0 && path_is(req->target, "/" HC "/echo")) {
        interlink_http_response_writer_set_body(resp, req->body, req->body_len);
    } else if (path_is(req->target, "/" HC "/big")) {
        uint8_t *big = pattern(200000);
        interlink_http_response_writer_set_body(resp, big, 200000);
        free(big);
    } else if (path_is(req->target, "/" HC "/teapot")) {
        interlink_http_response_writer_set_status(resp, 418, "Short And Stout");
    } else if (path_is(req->target, "/" HC "/headers")) {
        const char *seen = "";
        for (size_t i = 0; i < req->headers_len; i++)
            if (strcmp(req->headers[i].name, "x-custom") == 0) seen = req->headers[i].value;
        interlink_http_response_writer_set_body(resp, (const uint8_t *)seen, strlen(seen));
    } else {
        interlink_http_response_writer_set_status(resp, 404, NULL);
        interlink_http_response_writer_set_body(resp, (const uint8_t *)"no route", 8);
    }
}

/* Rejects senders whose path starts with /conv/forbidden. */
static uint16_t filter(void *user_data, const interlink_accept_request *req,
                       const char **description) {
    (void)user_data;
    if (strncmp(req->target, "/" HC "/forbidden", 14) == 0) {
        *description = "not here";
        return 403;
    }
    return 0;
}

static char last_accepted_target[256];
static pthread_mutex_t target_lock = PTHREAD_MUTEX_INITIALIZER;

/* Echoes every message of one accepted socket until it ends. */
static void *echo(void *arg) {
    interlink_websocket *ws = arg;
    const char *target = NULL;
    if (interlink_websocket_target(ws, &target) == INTERLINK_RESULT_OK) {
        pthread_mutex_lock(&target_lock);
        snprintf(last_accepted_target, sizeof last_accepted_target, "%s", target);
        pthread_mutex_unlock(&target_lock);
    }
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

#define MAX_SOCKETS 16
static pthread_t echo_threads[MAX_SOCKETS];
static int echo_count;

/* Accepts sockets until the listener closes. */
static void *acceptor(void *arg) {
    (void)arg;
    interlink_websocket *ws = NULL;
    while (interlink_listener_accept(listener, 0, &ws) == INTERLINK_RESULT_OK) {
        if (echo_count < MAX_SOCKETS &&
            pthread_create(&echo_threads[echo_count], NULL, echo, ws) == 0)
            echo_count++;
        else
            interlink_websocket_free(ws);
    }
    return NULL;
}

static void test_gateway_basics(void) {
    uint16_t port = 0;
    CHECK_OK(interlink_gateway_local_port(gateway, &port));
    CHECK(port != 0);
    char expected[64];
    snprintf(expected, sizeof expected, "Endpoint=sb://127.0.0.1:%u/;", port);
    CHECK(strncmp(connection_string, expected, strlen(expected)) == 0);
    CHECK(strstr(connection_string, "SharedAccessKeyName=RootManageSharedAccessKey;") != NULL);
    interlink_gateway *bad = NULL;
    CHECK_CODE(interlink_gateway_start("not an address", NULL, NULL, &bad),
               INTERLINK_RESULT_INVALID_ARGUMENT);
    CHECK(bad == NULL);
}

static void test_http_over_the_control_channel(void) {
    int before = atomic_load(&handled_requests);
    interlink_http_response r;
    CHECK_OK(interlink_http_send(connection_string, HC, "GET", "/hello", NULL, 0, NULL, 0, WAIT_MS, &r));
    CHECK(r.status == 200);
    CHECK_STR(r.reason, "OK");
    CHECK(r.body.len == 12 && memcmp(r.body.data, "hello from C", 12) == 0);
    int found = 0;
    for (size_t i = 0; i < r.headers_len; i++)
        if (strcmp(r.headers[i].name, "x-from") == 0 && strcmp(r.headers[i].value, "c") == 0) found = 1;
    CHECK(found);
    interlink_http_response_free(&r);
    CHECK(r.body.data == NULL && r.headers == NULL && r.reason == NULL);
    interlink_http_response_free(&r); /* twice is harmless */
    CHECK(atomic_load(&handled_requests) == before + 1);

    interlink_header h[] = {{"x-custom", "value 1"}};
    CHECK_OK(interlink_http_send(connection_string, HC, "GET", "/headers", h, 1, NULL, 0, WAIT_MS, &r));
    CHECK(r.body.len == 7 && memcmp(r.body.data, "value 1", 7) == 0);
    interlink_http_response_free(&r);

    CHECK_OK(interlink_http_send(connection_string, HC, "GET", "/teapot?x=1", NULL, 0, NULL, 0, WAIT_MS, &r));
    CHECK(r.status == 418);
    CHECK_STR(r.reason, "Short And Stout");
    CHECK(r.body.len == 0);
    interlink_http_response_free(&r);

    CHECK_OK(interlink_http_send(connection_string, HC, "GET", "/nowhere", NULL, 0, NULL, 0, WAIT_MS, &r));
    CHECK(r.status == 404 && r.body.len == 8);
    interlink_http_response_free(&r);
}

static void test_http_through_rendezvous(void) {
    /* A 100 KB request body goes through a relay-initiated rendezvous... */
    uint8_t *body = pattern(100000);
    interlink_http_response r;
    CHECK_OK(interlink_http_send(connection_string, HC, "POST", "/echo", NULL, 0, body, 100000, WAIT_MS, &r));
    CHECK(r.status == 200 && r.body.len == 100000 && memcmp(r.body.data, body, 100000) == 0);
    interlink_http_response_free(&r);
    free(body);
    /* ...and a 200 KB response through a listener-initiated one. */
    CHECK_OK(interlink_http_send(connection_string, HC, "GET", "/big", NULL, 0, NULL, 0, WAIT_MS, &r));
    uint8_t *want = pattern(200000);
    CHECK(r.status == 200 && r.body.len == 200000 && memcmp(r.body.data, want, 200000) == 0);
    free(want);
    interlink_http_response_free(&r);
}

static void test_http_relay_errors(void) {
    interlink_http_response r;
    CHECK_OK(interlink_http_send(connection_string, "conv-nobody", "GET", "/", NULL, 0, NULL, 0, WAIT_MS, &r));
    CHECK(r.status == 502);
    interlink_http_response_free(&r);
    CHECK_CODE(interlink_http_send("Endpoint=nonsense", HC, "GET", "/", NULL, 0, NULL, 0, WAIT_MS, &r),
               INTERLINK_RESULT_INVALID_ARGUMENT);
    CHECK_CODE(interlink_http_send(connection_string, HC, NULL, "/", NULL, 0, NULL, 0, WAIT_MS, &r),
               INTERLINK_RESULT_NULL_POINTER);
    CHECK(strstr(interlink_last_error_message(), "method") != NULL);
}

static void test_websocket_echo(void) {
    interlink_websocket *ws = NULL;
    CHECK_OK(interlink_websocket_connect(connection_string, HC, "chat?room=1", WAIT_MS, &ws));
    if (!ws) return;
    const char *target = NULL;
    CHECK_OK(interlink_websocket_target(ws, &target));
    CHECK_STR(target, "/" HC "/chat?room=1");
    const char *texts[] = {"one", "two", "three"};
    interlink_ws_message m;
    for (int i = 0; i < 3; i++) {
        CHECK_OK(interlink_websocket_send_text(ws, texts[i], strlen(texts[i])));
        CHECK_OK(interlink_websocket_recv(ws, WAIT_MS, &m));
        CHECK(m.kind == INTERLINK_WS_MESSAGE_KIND_TEXT && m.data.len == strlen(texts[i]) &&
              memcmp(m.data.data, texts[i], m.data.len) == 0);
        interlink_bytes_free(&m.data);
    }
    uint8_t *bin = pattern(70000);
    CHECK_OK(interlink_websocket_send_binary(ws, bin, 70000));
    CHECK_OK(interlink_websocket_recv(ws, WAIT_MS, &m));
    CHECK(m.kind == INTERLINK_WS_MESSAGE_KIND_BINARY && m.data.len == 70000 &&
          memcmp(m.data.data, bin, 70000) == 0);
    interlink_bytes_free(&m.data);
    free(bin);
    /* Nothing more comes: a bounded wait times out. */
    CHECK_CODE(interlink_websocket_recv(ws, 200, &m), INTERLINK_RESULT_TIMEOUT);
    pthread_mutex_lock(&target_lock);
    CHECK_STR(last_accepted_target, "/" HC "/chat?room=1");
    pthread_mutex_unlock(&target_lock);
    /* Close: the listener's echo thread sees it and the close handshake completes. */
    CHECK_OK(interlink_websocket_close(ws, 1000, "done"));
    CHECK_OK(interlink_websocket_recv(ws, WAIT_MS, &m));
    CHECK(m.kind == INTERLINK_WS_MESSAGE_KIND_CLOSE && m.close_code == 1000);
    interlink_bytes_free(&m.data);
    CHECK_CODE(interlink_websocket_recv(ws, WAIT_MS, &m), INTERLINK_RESULT_CLOSED);
    interlink_websocket_free(ws);
}

static void test_websocket_refusals(void) {
    interlink_websocket *ws = NULL;
    CHECK_CODE(interlink_websocket_connect(connection_string, HC, "forbidden", WAIT_MS, &ws),
               INTERLINK_RESULT_REFUSED);
    CHECK(interlink_last_error_status() == 403);
    CHECK(strstr(interlink_last_error_message(), "not here") != NULL);
    CHECK(ws == NULL);
    CHECK_CODE(interlink_websocket_connect(connection_string, "conv-nobody", NULL, WAIT_MS, &ws),
               INTERLINK_RESULT_REFUSED);
    CHECK(interlink_last_error_status() == 404);
}

static void test_listener_bad_credentials(void) {
    uint16_t port = 0;
    interlink_gateway_local_port(gateway, &port);
    char cs[256];
    snprintf(cs, sizeof cs,
             "Endpoint=sb://127.0.0.1:%u/;SharedAccessKeyName=RootManageSharedAccessKey;"
             "SharedAccessKey=wrong",
             port);
    interlink_listener *l = NULL;
    CHECK_CODE(interlink_listener_bind(cs, HC, NULL, NULL, &l), INTERLINK_RESULT_REFUSED);
    CHECK(interlink_last_error_status() == 401);
    CHECK(l == NULL);
    snprintf(cs, sizeof cs, "Endpoint=sb://127.0.0.1:%u/", port);
    CHECK_CODE(interlink_listener_bind(cs, HC, NULL, NULL, &l), INTERLINK_RESULT_AUTH);
}

static void test_second_listener_without_handler(void) {
    interlink_listener *l = NULL;
    CHECK_OK(interlink_listener_bind(connection_string, "conv-501", NULL, NULL, &l));
    interlink_http_response r;
    CHECK_OK(interlink_http_send(connection_string, "conv-501", "GET", "/", NULL, 0, NULL, 0, WAIT_MS, &r));
    CHECK(r.status == 501);
    interlink_http_response_free(&r);
    CHECK_OK(interlink_listener_close(l));
    interlink_websocket *ws = NULL;
    CHECK_CODE(interlink_listener_accept(l, WAIT_MS, &ws), INTERLINK_RESULT_CLOSED);
    interlink_listener_free(l);
}

#define SENDER_THREADS 8
#define REQUESTS_PER_THREAD 10

/* One sender thread: requests with its own body, each echoed back. */
static void *sender_thread(void *arg) {
    long id = (long)(intptr_t)arg;
    long good = 0;
    for (int i = 0; i < REQUESTS_PER_THREAD; i++) {
        char body[64];
        int n = snprintf(body, sizeof body, "thread %ld request %d", id, i);
        interlink_http_response r;
        if (interlink_http_send(connection_string, HC, "POST", "/echo", NULL, 0, (const uint8_t *)body,
                                (size_t)n, WAIT_MS, &r) == INTERLINK_RESULT_OK) {
            good += r.status == 200 && r.body.len == (size_t)n && memcmp(r.body.data, body, (size_t)n) == 0;
            interlink_http_response_free(&r);
        }
    }
    return (void *)(intptr_t)good;
}

static void test_concurrent_senders(void) {
    pthread_t threads[SENDER_THREADS];
    int before = atomic_load(&handled_requests);
    for (long i = 0; i < SENDER_THREADS; i++)
        CHECK(pthread_create(&threads[i], NULL, sender_thread, (void *)(intptr_t)i) == 0);
    long good = 0;
    for (int i = 0; i < SENDER_THREADS; i++) {
        void *ret = NULL;
        pthread_join(threads[i], &ret);
        good += (long)(intptr_t)ret;
    }
    CHECK(good == SENDER_THREADS * REQUESTS_PER_THREAD);
    CHECK(atomic_load(&handled_requests) == before + SENDER_THREADS * REQUESTS_PER_THREAD);
}

int main(void) {
    if (interlink_gateway_start("127.0.0.1:0", NULL, NULL, &gateway) != INTERLINK_RESULT_OK ||
        interlink_gateway_connection_string(gateway, &connection_string) != INTERLINK_RESULT_OK) {
        fprintf(stderr, "gateway: %s\n", interlink_last_error_message());
        return 1;
    }
    if (interlink_listener_bind(connection_string, HC, handler, &handled_requests, &listener) !=
        INTERLINK_RESULT_OK) {
        fprintf(stderr, "listener: %s\n", interlink_last_error_message());
        return 1;
    }
    interlink_listener_set_accept_filter(listener, filter, NULL);
    pthread_t accept_thread;
    pthread_create(&accept_thread, NULL, acceptor, NULL);

    RUN(test_gateway_basics);
    RUN(test_http_over_the_control_channel);
    RUN(test_http_through_rendezvous);
    RUN(test_http_relay_errors);
    RUN(test_concurrent_senders);
    RUN(test_websocket_echo);
    RUN(test_websocket_refusals);
    RUN(test_listener_bad_credentials);
    RUN(test_second_listener_without_handler);

    interlink_listener_close(listener);
    pthread_join(accept_thread, NULL);
    for (int i = 0; i < echo_count; i++) pthread_join(echo_threads[i], NULL);
    interlink_listener_free(listener);
    interlink_gateway_stop(gateway);
    interlink_gateway_free(gateway);
    interlink_string_free(connection_string);
    return check_report();
}
