/* Tests of interlink's SignalR hub convenience C API on real sockets (127.0.0.1, OS-chosen
 * ports): a hub host whose methods are written in C, clients (interlink_hub_connection_*) in
 * JSON and MessagePack calling it (invoke, send, broadcast to client handlers, errors,
 * streams read to the end and cancelled, client results, groups), the same clients against
 * the demo server, and a method that never returns not wedging the host's shutdown. Every
 * wait is bounded; also run under valgrind by tests/c/run.sh. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"

#define OK INTERLINK_RESULT_OK
#define WAIT_MS 10000

static interlink_hub_host *host;
static char *host_url;
static atomic_int endless_cancelled;
static atomic_int hang_started;
static atomic_int hang_release;

static uint64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* The inside of a JSON array as the library writes it ("[a,b]" -> "a,b"), copied. */
static char *inner(const char *args_json) {
    size_t n = strlen(args_json);
    char *s = malloc(n);
    memcpy(s, args_json + 1, n - 2);
    s[n - 2] = '\0';
    return s;
}

/* ------------------------------------------------------------ the C hub's methods ------ */

static uint32_t echo(void *user_data, const interlink_hub_call *call, const char *args_json,
                     interlink_hub_reply *reply) {
    (void)user_data;
    (void)call;
    char *value = inner(args_json);
    interlink_result r = interlink_hub_reply_set_json(reply, value);
    free(value);
    return r;
}

static uint32_t add(void *user_data, const interlink_hub_call *call, const char *args_json,
                    interlink_hub_reply *reply) {
    (void)user_data;
    (void)call;
    long long a = 0, b = 0;
    if (sscanf(args_json, "[%lld,%lld]", &a, &b) != 2) {
        interlink_hub_reply_set_error(reply, "add takes two integers");
        return INTERLINK_RESULT_INVALID_ARGUMENT;
    }
    char sum[32];
    snprintf(sum, sizeof sum, "%lld", a + b);
    return interlink_hub_reply_set_json(reply, sum);
}

static uint32_t fail(void *user_data, const interlink_hub_call *call, const char *args_json,
                     interlink_hub_reply *reply) {
    (void)user_data;
    (void)call;
    (void)args_json;
    interlink_hub_reply_set_json(reply, "1"); /* an error wins over a value */
    interlink_hub_reply_set_error(reply, "no luck today");
    return OK;
}

static uint32_t fail_code(void *user_data, const interlink_hub_call *call, const char *args_json,
                          interlink_hub_reply *reply) {
    (void)user_data;
    (void)call;
    (void)args_json;
    (void)reply;
    return INTERLINK_RESULT_IO;
}

/* broadcast(text): calls message(text) on every client. */
static uint32_t broadcast(void *user_data, const interlink_hub_call *call, const char *args_json,
                          interlink_hub_reply *reply) {
    (void)user_data;
    (void)call;
    (void)reply;
    return interlink_hub_host_broadcast(host, "message", args_json);
}

/* counter(n): streams 0..n-1. */
static uint32_t counter(void *user_data, const interlink_hub_call *call, const char *args_json,
                        interlink_hub_reply *reply) {
    (void)user_data;
    (void)reply;
    int n = 0;
    if (sscanf(args_json, "[%d]", &n) != 1) return INTERLINK_RESULT_INVALID_ARGUMENT;
    for (int i = 0; i < n; i++) {
        char item[16];
        snprintf(item, sizeof item, "%d", i);
        interlink_result r = interlink_hub_call_send_item(call, item);
        if (r != OK) return r;
    }
    return OK;
}

/* endless(): items until the caller cancels. */
static uint32_t endless(void *user_data, const interlink_hub_call *call, const char *args_json,
                        interlink_hub_reply *reply) {
    (void)user_data;
    (void)args_json;
    (void)reply;
    uint64_t deadline = now_ms() + 20000;
    for (int i = 0; now_ms() < deadline; i++) {
        char item[32];
        snprintf(item, sizeof item, "{\"i\":%d}", i);
        if (interlink_hub_call_send_item(call, item) == INTERLINK_RESULT_CLOSED) {
            atomic_store(&endless_cancelled, 1);
            return OK;
        }
        sleep_ms(5);
    }
    return INTERLINK_RESULT_TIMEOUT;
}

/* ask(value): asks the caller question(value) and returns its answer. */
static uint32_t ask(void *user_data, const interlink_hub_call *call, const char *args_json,
                    interlink_hub_reply *reply) {
    (void)user_data;
    char *answer = NULL;
    interlink_result r = interlink_hub_call_invoke_caller(call, "question", args_json, &answer);
    if (r != OK) {
        interlink_hub_reply_set_error(reply, interlink_last_error_message());
        return r;
    }
    r = interlink_hub_reply_set_json(reply, answer);
    interlink_string_free(answer);
    return r;
}

/* whoami(): the caller's connection id as a JSON string. */
static uint32_t whoami(void *user_data, const interlink_hub_call *call, const char *args_json,
                       interlink_hub_reply *reply) {
    (void)user_data;
    (void)args_json;
    const char *id = NULL;
    interlink_result r = interlink_hub_call_connection_id(call, &id);
    if (r != OK) return r;
    char json[128];
    snprintf(json, sizeof json, "\"%s\"", id);
    return interlink_hub_reply_set_json(reply, json);
}

/* join(group) / leave(group): the caller's groups. */
static uint32_t join(void *user_data, const interlink_hub_call *call, const char *args_json,
                     interlink_hub_reply *reply) {
    (void)reply;
    char group[64] = "";
    if (sscanf(args_json, "[\"%63[^\"]\"]", group) != 1) return INTERLINK_RESULT_INVALID_ARGUMENT;
    return user_data ? interlink_hub_call_add_to_group(call, group)
                     : interlink_hub_call_remove_from_group(call, group);
}

/* hang(): blocks until the test releases it (at most 30 s). */
static uint32_t hang(void *user_data, const interlink_hub_call *call, const char *args_json,
                     interlink_hub_reply *reply) {
    (void)user_data;
    (void)call;
    (void)args_json;
    (void)reply;
    atomic_store(&hang_started, 1);
    uint64_t deadline = now_ms() + 30000;
    while (!atomic_load(&hang_release) && now_ms() < deadline) sleep_ms(10);
    return OK;
}

static int join_flag = 1;

static interlink_hub_host_builder *new_builder(void) {
    interlink_hub_host_builder *b = NULL;
    if (interlink_hub_host_builder_new(&b) != OK) return NULL;
    interlink_hub_host_builder_add_method(b, "echo", 1, echo, NULL);
    interlink_hub_host_builder_add_method(b, "add", 2, add, NULL);
    interlink_hub_host_builder_add_method(b, "fail", 0, fail, NULL);
    interlink_hub_host_builder_add_method(b, "failCode", 0, fail_code, NULL);
    interlink_hub_host_builder_add_method(b, "broadcast", 1, broadcast, NULL);
    interlink_hub_host_builder_add_stream_method(b, "counter", 1, counter, NULL);
    interlink_hub_host_builder_add_stream_method(b, "endless", 0, endless, NULL);
    interlink_hub_host_builder_add_method(b, "ask", 1, ask, NULL);
    interlink_hub_host_builder_add_method(b, "whoami", 0, whoami, NULL);
    interlink_hub_host_builder_add_method(b, "join", 1, join, &join_flag);
    interlink_hub_host_builder_add_method(b, "leave", 1, join, NULL);
    return b;
}

/* ------------------------------------------------------------ client side -------------- */

/* What a client's message handler received. */
typedef struct {
    pthread_mutex_t lock;
    int count;
    char last[256];
    char all[1024];
} inbox;

#define INBOX_INIT {PTHREAD_MUTEX_INITIALIZER, 0, "", ""}

static uint32_t on_message(void *user_data, const char *method, const char *args_json,
                           interlink_hub_reply *reply) {
    (void)reply;
    inbox *in = user_data;
    pthread_mutex_lock(&in->lock);
    in->count++;
    (void)method;
    snprintf(in->last, sizeof in->last, "%s", args_json);
    size_t used = strlen(in->all);
    snprintf(in->all + used, sizeof in->all - used, "%s;", args_json);
    pthread_mutex_unlock(&in->lock);
    return OK;
}

/* Waits (bounded) until `in` holds at least `count` messages. */
static int wait_count(inbox *in, int count) {
    uint64_t deadline = now_ms() + WAIT_MS;
    for (;;) {
        pthread_mutex_lock(&in->lock);
        int n = in->count;
        pthread_mutex_unlock(&in->lock);
        if (n >= count) return 1;
        if (now_ms() > deadline) return 0;
        sleep_ms(5);
    }
}

/* question(value) -> {"asked": value}. */
static uint32_t on_question(void *user_data, const char *method, const char *args_json,
                            interlink_hub_reply *reply) {
    (void)user_data;
    (void)method;
    char *value = inner(args_json);
    char answer[256];
    snprintf(answer, sizeof answer, "{\"asked\":%s}", value);
    free(value);
    return interlink_hub_reply_set_json(reply, answer);
}

static uint32_t on_question_refuse(void *user_data, const char *method, const char *args_json,
                                   interlink_hub_reply *reply) {
    (void)user_data;
    (void)method;
    (void)args_json;
    interlink_hub_reply_set_error(reply, "I will not say");
    return INTERLINK_RESULT_INVALID_ARGUMENT;
}

static interlink_hub_connection *connect_to(const char *url, uint32_t protocol) {
    interlink_hub_connect_options o = {0};
    o.protocol = protocol;
    o.call_timeout_ms = WAIT_MS;
    interlink_hub_connection *c = NULL;
    interlink_result r = interlink_hub_connect(url, &o, &c);
    if (r != OK) fprintf(stderr, "  connect %s: %s\n", url, interlink_last_error_message());
    return c;
}

/* Invokes and compares the result text. */
static void check_invoke(interlink_hub_connection *c, const char *method, const char *args,
                         const char *expected) {
    char *result = NULL;
    CHECK_OK(interlink_hub_connection_invoke(c, method, args, &result));
    CHECK_STR(result, expected);
    interlink_string_free(result);
}

/* Reads a stream to its end; `expected` lists the items, joined by ' '. */
static void check_stream(interlink_hub_connection *c, const char *method, const char *args,
                         const char *expected) {
    interlink_hub_stream *s = NULL;
    CHECK_OK(interlink_hub_connection_stream_open(c, method, args, &s));
    if (!s) return;
    char got[256] = "";
    bool done = false;
    for (int i = 0; i < 100 && !done; i++) {
        char *item = NULL;
        interlink_result r = interlink_hub_stream_next(s, WAIT_MS, &item, &done);
        CHECK_CODE(r, OK);
        if (r != OK) break;
        if (item) {
            size_t used = strlen(got);
            snprintf(got + used, sizeof got - used, "%s%s", used ? " " : "", item);
        }
        interlink_string_free(item);
    }
    CHECK(done);
    CHECK_STR(got, expected);
    char *item = (char *)1;
    CHECK_OK(interlink_hub_stream_next(s, WAIT_MS, &item, &done)); /* stays done */
    CHECK(done && item == NULL);
    interlink_hub_stream_free(s);
}

/* The calls every server here answers the same way (the C host and the demo). */
static void check_echo_add_counter(interlink_hub_connection *c, const char *counter_args) {
    check_invoke(c, "echo", "[\"hi\"]", "\"hi\"");
    check_invoke(c, "echo", "[{\"a\":[1,2.5,null,true],\"b\":\"\xc3\xa9\"}]",
                 "{\"a\":[1,2.5,null,true],\"b\":\"\xc3\xa9\"}");
    check_invoke(c, "add", "[2, 40]", "42");
    check_invoke(c, "add", "[-5,3]", "-2");
    check_stream(c, "counter", counter_args, "0 1 2 3");
}

static void test_invoke_json_and_messagepack(void) {
    uint32_t protocols[] = {INTERLINK_HUB_PROTOCOL_JSON, INTERLINK_HUB_PROTOCOL_MESSAGEPACK};
    for (int p = 0; p < 2; p++) {
        interlink_hub_connection *c = connect_to(host_url, protocols[p]);
        CHECK(c != NULL);
        if (!c) continue;
        check_echo_add_counter(c, "[4]");
        CHECK_OK(interlink_hub_connection_invoke(c, "echo", "[1]", NULL)); /* result not wanted */
        check_stream(c, "counter", "[0]", "");
        interlink_hub_connection_free(c);
    }
}

static void test_connection_basics(void) {
    interlink_hub_connection *c = connect_to(host_url, INTERLINK_HUB_PROTOCOL_JSON);
    CHECK(c != NULL);
    if (!c) return;
    char *id = NULL;
    CHECK_OK(interlink_hub_connection_id(c, &id));
    CHECK(id != NULL && strlen(id) > 0);
    /* The server sees the same id. */
    char *seen = NULL;
    CHECK_OK(interlink_hub_connection_invoke(c, "whoami", NULL, &seen));
    if (id && seen) CHECK(strlen(seen) == strlen(id) + 2 && strncmp(seen + 1, id, strlen(id)) == 0);
    interlink_string_free(seen);
    interlink_string_free(id);
    size_t count = 0;
    CHECK_OK(interlink_hub_host_connection_count(host, &count));
    CHECK(count >= 1);
    interlink_hub_connection_state state = 99;
    CHECK_OK(interlink_hub_connection_get_state(c, &state));
    CHECK(state == INTERLINK_HUB_CONNECTION_STATE_CONNECTED);
    /* Stop: calls fail until started again. */
    CHECK_OK(interlink_hub_connection_stop(c));
    CHECK_OK(interlink_hub_connection_stop(c));
    CHECK_OK(interlink_hub_connection_get_state(c, &state));
    CHECK(state == INTERLINK_HUB_CONNECTION_STATE_DISCONNECTED);
    CHECK_CODE(interlink_hub_connection_invoke(c, "echo", "[1]", NULL), INTERLINK_RESULT_INVALID_STATE);
    interlink_hub_stream *s = NULL;
    CHECK_CODE(interlink_hub_connection_stream_open(c, "counter", "[1]", &s), INTERLINK_RESULT_INVALID_STATE);
    CHECK(s == NULL);
    CHECK_OK(interlink_hub_connection_id(c, &id));
    CHECK(id == NULL);
    CHECK_OK(interlink_hub_connection_start(c));
    check_invoke(c, "add", "[1,1]", "2");
    interlink_hub_connection_free(c);
}

static void test_argument_errors(void) {
    interlink_hub_connection *c = connect_to(host_url, INTERLINK_HUB_PROTOCOL_MESSAGEPACK);
    CHECK(c != NULL);
    if (!c) return;
    CHECK_CODE(interlink_hub_connection_invoke(c, "echo", "[1,", NULL), INTERLINK_RESULT_INVALID_ARGUMENT);
    CHECK(strstr(interlink_last_error_message(), "args_json") != NULL);
    CHECK_CODE(interlink_hub_connection_invoke(c, "echo", "{\"a\":1}", NULL), INTERLINK_RESULT_INVALID_ARGUMENT);
    CHECK_CODE(interlink_hub_connection_invoke(c, NULL, "[]", NULL), INTERLINK_RESULT_NULL_POINTER);
    /* The server refuses a wrong argument count and an unknown method. */
    CHECK_CODE(interlink_hub_connection_invoke(c, "echo", "[1,2]", NULL), INTERLINK_RESULT_HUB_ERROR);
    CHECK_STR(interlink_last_error_message(), "Invocation provides 2 argument(s) but target expects 1.");
    CHECK_CODE(interlink_hub_connection_invoke(c, "counter", "[1]", NULL), INTERLINK_RESULT_HUB_ERROR);
    CHECK(strstr(interlink_last_error_message(), "non-streaming invocation") != NULL);
    CHECK_CODE(interlink_hub_connection_invoke(c, "nope", NULL, NULL), INTERLINK_RESULT_HUB_ERROR);
    CHECK(strstr(interlink_last_error_message(), "nope") != NULL);
    CHECK_STR(interlink_result_name(INTERLINK_RESULT_HUB_ERROR), "INTERLINK_RESULT_HUB_ERROR");
    /* A bad result from C is an error for the caller, not a broken connection. */
    check_invoke(c, "echo", "[3]", "3");
    interlink_hub_connection_free(c);

    interlink_hub_connection *bad = NULL;
    CHECK_CODE(interlink_hub_connect("ftp://127.0.0.1/hub", NULL, &bad), INTERLINK_RESULT_INVALID_ARGUMENT);
    CHECK(bad == NULL);
    interlink_hub_connect_options o = {0};
    o.protocol = 7;
    CHECK_CODE(interlink_hub_connect(host_url, &o, &bad), INTERLINK_RESULT_INVALID_ARGUMENT);
    uint16_t port = 0;
    interlink_hub_host_local_port(host, &port);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/elsewhere", port);
    CHECK_CODE(interlink_hub_connect(url, NULL, &bad), INTERLINK_RESULT_REFUSED);
    CHECK(interlink_last_error_status() == 404);
    CHECK(bad == NULL);
}

static void test_hub_errors(void) {
    interlink_hub_connection *c = connect_to(host_url, INTERLINK_HUB_PROTOCOL_JSON);
    CHECK(c != NULL);
    if (!c) return;
    char *result = (char *)1;
    CHECK_CODE(interlink_hub_connection_invoke(c, "fail", NULL, &result), INTERLINK_RESULT_HUB_ERROR);
    CHECK_STR(interlink_last_error_message(),
              "An unexpected error occurred invoking 'fail' on the server. HubException: no luck today");
    CHECK_CODE(interlink_hub_connection_invoke(c, "failCode", NULL, NULL), INTERLINK_RESULT_HUB_ERROR);
    CHECK(strstr(interlink_last_error_message(), "INTERLINK_RESULT_IO") != NULL);
    CHECK_CODE(interlink_hub_connection_invoke(c, "add", "[\"x\",1]", NULL), INTERLINK_RESULT_HUB_ERROR);
    CHECK(strstr(interlink_last_error_message(), "add takes two integers") != NULL);
    /* A streaming method that fails ends its stream with the error. */
    interlink_hub_stream *s = NULL;
    CHECK_OK(interlink_hub_connection_stream_open(c, "counter", "[\"x\"]", &s));
    char *item = NULL;
    bool done = false;
    CHECK_CODE(interlink_hub_stream_next(s, WAIT_MS, &item, &done), INTERLINK_RESULT_HUB_ERROR);
    CHECK(done && item == NULL);
    CHECK(strstr(interlink_last_error_message(), "INTERLINK_RESULT_INVALID_ARGUMENT") != NULL);
    interlink_hub_stream_free(s);
    check_invoke(c, "echo", "[\"still here\"]", "\"still here\"");
    interlink_hub_connection_free(c);
}

static void test_stream_cancel(void) {
    interlink_hub_connection *c = connect_to(host_url, INTERLINK_HUB_PROTOCOL_MESSAGEPACK);
    CHECK(c != NULL);
    if (!c) return;
    atomic_store(&endless_cancelled, 0);
    interlink_hub_stream *s = NULL;
    CHECK_OK(interlink_hub_connection_stream_open(c, "endless", NULL, &s));
    for (int i = 0; i < 3; i++) {
        char *item = NULL;
        bool done = true;
        CHECK_OK(interlink_hub_stream_next(s, WAIT_MS, &item, &done));
        char want[32];
        snprintf(want, sizeof want, "{\"i\":%d}", i);
        CHECK(!done);
        CHECK_STR(item, want);
        interlink_string_free(item);
    }
    interlink_hub_stream_free(s); /* cancels on the server */
    uint64_t deadline = now_ms() + WAIT_MS;
    while (!atomic_load(&endless_cancelled) && now_ms() < deadline) sleep_ms(5);
    CHECK(atomic_load(&endless_cancelled));
    check_invoke(c, "add", "[20,22]", "42");
    check_stream(c, "counter", "[2]", "0 1");
    /* A stream may outlive its connection: it then ends with CLOSED (once the call is under
     * way: the first item arrived). */
    CHECK_OK(interlink_hub_connection_stream_open(c, "endless", NULL, &s));
    char *item = NULL;
    bool done = false;
    if (s) CHECK_OK(interlink_hub_stream_next(s, WAIT_MS, &item, &done));
    interlink_string_free(item);
    interlink_hub_connection_free(c);
    if (!s) return;
    interlink_result r = OK;
    for (int i = 0; i < 10000 && r == OK && !done; i++) {
        r = interlink_hub_stream_next(s, WAIT_MS, &item, &done);
        interlink_string_free(item);
    }
    CHECK_CODE(r, INTERLINK_RESULT_CLOSED);
    CHECK(done);
    interlink_hub_stream_free(s);
}

static void test_stream_timeout(void) {
    interlink_hub_demo_server *demo = NULL;
    CHECK_OK(interlink_hub_demo_server_start(NULL, &demo));
    if (!demo) return;
    uint16_t port = 0;
    interlink_hub_demo_server_local_port(demo, &port);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/demo", port);
    interlink_hub_connection *c = connect_to(url, INTERLINK_HUB_PROTOCOL_JSON);
    CHECK(c != NULL);
    if (c) {
        interlink_hub_stream *s = NULL;
        CHECK_OK(interlink_hub_connection_stream_open(c, "counter", "[2, 400]", &s));
        char *item = (char *)1;
        bool done = true;
        CHECK_CODE(interlink_hub_stream_next(s, 50, &item, &done), INTERLINK_RESULT_TIMEOUT);
        CHECK(item == NULL && !done);
        CHECK_OK(interlink_hub_stream_next(s, WAIT_MS, &item, &done));
        CHECK_STR(item, "0");
        interlink_string_free(item);
        interlink_hub_stream_free(s);
        interlink_hub_connection_free(c);
    }
    interlink_hub_demo_server_free(demo);
}

static void test_send_and_broadcast(void) {
    static inbox a_in = INBOX_INIT, b_in = INBOX_INIT;
    interlink_hub_connection *a = NULL, *b = NULL;
    interlink_hub_connect_options o = {0};
    o.protocol = INTERLINK_HUB_PROTOCOL_MESSAGEPACK;
    /* Handlers registered before start miss nothing. */
    CHECK_OK(interlink_hub_connection_new(host_url, &o, &b));
    if (!b) return;
    CHECK_OK(interlink_hub_connection_on(b, "Message", on_message, &b_in)); /* case-insensitive */
    CHECK_CODE(interlink_hub_connection_on(b, "message", NULL, &b_in), INTERLINK_RESULT_NULL_POINTER);
    CHECK_OK(interlink_hub_connection_start(b));
    a = connect_to(host_url, INTERLINK_HUB_PROTOCOL_JSON);
    CHECK(a != NULL);
    if (!a) {
        interlink_hub_connection_free(b);
        return;
    }
    CHECK_OK(interlink_hub_connection_on(a, "message", on_message, &a_in));
    CHECK_OK(interlink_hub_connection_send(a, "broadcast", "[\"hello\"]"));
    CHECK(wait_count(&b_in, 1));
    CHECK(wait_count(&a_in, 1));
    CHECK_STR(b_in.last, "[\"hello\"]");
    CHECK_STR(a_in.last, "[\"hello\"]");
    /* From application code, with any arguments, in each client's protocol. */
    CHECK_OK(interlink_hub_host_broadcast(host, "message", "[1,{\"x\":[true]}]"));
    CHECK(wait_count(&b_in, 2));
    CHECK_STR(b_in.last, "[1,{\"x\":[true]}]");
    CHECK_OK(interlink_hub_host_broadcast(host, "message", NULL));
    CHECK(wait_count(&b_in, 3));
    CHECK_STR(b_in.last, "[]");
    /* Handlers run in arrival order. */
    for (int i = 0; i < 5; i++) {
        char args[16];
        snprintf(args, sizeof args, "[%d]", i);
        CHECK_OK(interlink_hub_host_broadcast(host, "message", args));
    }
    CHECK(wait_count(&b_in, 8));
    CHECK(strstr(b_in.all, "[0];[1];[2];[3];[4];") != NULL);
    CHECK_OK(interlink_hub_connection_off(b, "MESSAGE"));
    CHECK_OK(interlink_hub_host_broadcast(host, "message", "[\"after off\"]"));
    CHECK(wait_count(&a_in, 9));
    check_invoke(b, "echo", "[0]", "0"); /* b is still fine, and got nothing more */
    CHECK(b_in.count == 8);
    interlink_hub_connection_free(a);
    interlink_hub_connection_free(b);
}

static void test_client_results(void) {
    interlink_hub_connection *c = connect_to(host_url, INTERLINK_HUB_PROTOCOL_MESSAGEPACK);
    CHECK(c != NULL);
    if (!c) return;
    /* No handler: the client answers with an error. */
    CHECK_CODE(interlink_hub_connection_invoke(c, "ask", "[1]", NULL), INTERLINK_RESULT_HUB_ERROR);
    CHECK(strstr(interlink_last_error_message(), "Client didn't provide a result") != NULL);
    CHECK_OK(interlink_hub_connection_on(c, "question", on_question, NULL));
    check_invoke(c, "ask", "[\"why\"]", "{\"asked\":\"why\"}");
    check_invoke(c, "ask", "[[1,2]]", "{\"asked\":[1,2]}");
    CHECK_OK(interlink_hub_connection_off(c, "question"));
    CHECK_OK(interlink_hub_connection_on(c, "question", on_question_refuse, NULL));
    CHECK_CODE(interlink_hub_connection_invoke(c, "ask", "[1]", NULL), INTERLINK_RESULT_HUB_ERROR);
    CHECK(strstr(interlink_last_error_message(), "I will not say") != NULL);
    interlink_hub_connection_free(c);
}

/* Waits (bounded) until `in` received a message whose arguments are `args`. */
static int wait_for(inbox *in, const char *args) {
    uint64_t deadline = now_ms() + WAIT_MS;
    for (;;) {
        pthread_mutex_lock(&in->lock);
        int found = strstr(in->all, args) != NULL;
        pthread_mutex_unlock(&in->lock);
        if (found) return 1;
        if (now_ms() > deadline) return 0;
        sleep_ms(5);
    }
}

/* Sends sentinel `name` to `c` through its connection id and waits for it: everything sent
 * to `c` before it has arrived (one connection's messages keep their order). */
static void flush(interlink_hub_connection *c, inbox *in, const char *name) {
    char *id = NULL;
    CHECK_OK(interlink_hub_connection_id(c, &id));
    char args[64];
    snprintf(args, sizeof args, "[\"%s\"]", name);
    CHECK_OK(interlink_hub_host_send_to_connection(host, id, "message", args));
    CHECK(wait_for(in, args));
    interlink_string_free(id);
}

static void test_groups(void) {
    static inbox a_in = INBOX_INIT, b_in = INBOX_INIT;
    interlink_hub_connection *a = connect_to(host_url, INTERLINK_HUB_PROTOCOL_JSON);
    interlink_hub_connection *b = connect_to(host_url, INTERLINK_HUB_PROTOCOL_MESSAGEPACK);
    CHECK(a && b);
    if (!a || !b) {
        interlink_hub_connection_free(a);
        interlink_hub_connection_free(b);
        return;
    }
    interlink_hub_connection_on(a, "message", on_message, &a_in);
    interlink_hub_connection_on(b, "message", on_message, &b_in);
    /* a joins g1 through a method; b is added to g2 by the application. */
    CHECK_OK(interlink_hub_connection_invoke(a, "join", "[\"g1\"]", NULL));
    char *b_id = NULL;
    CHECK_OK(interlink_hub_connection_id(b, &b_id));
    CHECK_OK(interlink_hub_host_add_to_group(host, b_id, "g2"));
    CHECK_OK(interlink_hub_host_send_to_group(host, "g1", "message", "[\"to g1\"]"));
    CHECK_OK(interlink_hub_host_send_to_group(host, "g2", "message", "[\"to g2\"]"));
    CHECK_OK(interlink_hub_host_send_to_group(host, "nobody", "message", "[\"lost\"]"));
    flush(a, &a_in, "s1");
    flush(b, &b_in, "s1");
    CHECK_STR(a_in.all, "[\"to g1\"];[\"s1\"];");
    CHECK_STR(b_in.all, "[\"to g2\"];[\"s1\"];");
    /* Leaving. */
    CHECK_OK(interlink_hub_connection_invoke(a, "leave", "[\"g1\"]", NULL));
    CHECK_OK(interlink_hub_host_remove_from_group(host, b_id, "g2"));
    CHECK_OK(interlink_hub_host_send_to_group(host, "g1", "message", "[\"late\"]"));
    CHECK_OK(interlink_hub_host_send_to_group(host, "g2", "message", "[\"late\"]"));
    flush(a, &a_in, "s2");
    flush(b, &b_in, "s2");
    CHECK(strstr(a_in.all, "late") == NULL && strstr(b_in.all, "late") == NULL);
    /* Misuse. */
    CHECK_CODE(interlink_hub_host_add_to_group(host, "no-such-id", "g1"), INTERLINK_RESULT_NOT_FOUND);
    CHECK_CODE(interlink_hub_host_send_to_connection(host, "no-such-id", "message", NULL),
               INTERLINK_RESULT_NOT_FOUND);
    CHECK_CODE(interlink_hub_host_add_to_group(host, b_id, ""), INTERLINK_RESULT_INVALID_ARGUMENT);
    CHECK_CODE(interlink_hub_connection_invoke(a, "join", "[\"\"]", NULL), INTERLINK_RESULT_HUB_ERROR);
    CHECK_CODE(interlink_hub_host_broadcast(host, "message", "nope"), INTERLINK_RESULT_INVALID_ARGUMENT);
    interlink_string_free(b_id);
    interlink_hub_connection_free(a);
    interlink_hub_connection_free(b);
}

static void test_demo_server(void) {
    interlink_hub_demo_server *demo = NULL;
    CHECK_OK(interlink_hub_demo_server_start("127.0.0.1:0", &demo));
    if (!demo) return;
    uint16_t port = 0;
    CHECK_OK(interlink_hub_demo_server_local_port(demo, &port));
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/demo", port);
    uint32_t protocols[] = {INTERLINK_HUB_PROTOCOL_JSON, INTERLINK_HUB_PROTOCOL_MESSAGEPACK};
    for (int p = 0; p < 2; p++) {
        static inbox in = INBOX_INIT;
        interlink_hub_connect_options o = {0};
        o.protocol = protocols[p];
        o.stateful_reconnect = true;
        interlink_hub_connection *c = NULL;
        CHECK_OK(interlink_hub_connection_new(url, &o, &c));
        if (!c) continue;
        CHECK_OK(interlink_hub_connection_on(c, "question", on_question, NULL));
        CHECK_OK(interlink_hub_connection_on(c, "message", on_message, &in));
        CHECK_OK(interlink_hub_connection_start(c));
        check_echo_add_counter(c, "[4, 1]");
        check_invoke(c, "add", "[0.5, 1]", "1.5");
        check_invoke(c, "ask", "[\"life\"]", "{\"asked\":\"life\"}");
        int before = in.count;
        CHECK_OK(interlink_hub_connection_send(c, "broadcast", "[\"hi all\"]"));
        CHECK(wait_count(&in, before + 1));
        CHECK(strstr(in.last, "\"hi all\"]") != NULL);
        CHECK_CODE(interlink_hub_connection_invoke(c, "add", "[\"a\", 1]", NULL), INTERLINK_RESULT_HUB_ERROR);
        CHECK(strstr(interlink_last_error_message(), "add takes two numbers") != NULL);
        interlink_hub_connection_free(c);
    }
    /* Skipping negotiation: no connection id, calls work. */
    interlink_hub_connect_options o = {0};
    o.skip_negotiation = true;
    interlink_hub_connection *c = connect_to(url, INTERLINK_HUB_PROTOCOL_JSON);
    interlink_hub_connection_free(c);
    c = NULL;
    CHECK_OK(interlink_hub_connect(url, &o, &c));
    if (c) {
        char *id = (char *)1;
        CHECK_OK(interlink_hub_connection_id(c, &id));
        CHECK(id == NULL);
        check_invoke(c, "echo", "[null]", "null");
    }
    /* Stopping the server ends the connection. */
    CHECK_OK(interlink_hub_demo_server_stop(demo));
    CHECK_OK(interlink_hub_demo_server_stop(demo));
    if (c) {
        interlink_hub_connection_state state = INTERLINK_HUB_CONNECTION_STATE_CONNECTED;
        uint64_t deadline = now_ms() + WAIT_MS;
        while (state != INTERLINK_HUB_CONNECTION_STATE_DISCONNECTED && now_ms() < deadline) {
            interlink_hub_connection_get_state(c, &state);
            sleep_ms(10);
        }
        CHECK(state == INTERLINK_HUB_CONNECTION_STATE_DISCONNECTED);
        CHECK_CODE(interlink_hub_connection_invoke(c, "echo", "[1]", NULL), INTERLINK_RESULT_INVALID_STATE);
        interlink_hub_connection_free(c);
    }
    interlink_hub_demo_server_free(demo);
}

static void *invoke_hang(void *arg) {
    interlink_hub_connection *c = arg;
    return (void *)(intptr_t)interlink_hub_connection_invoke(c, "hang", NULL, NULL);
}

/* A method that does not return delays the host's shutdown by a bounded time only. */
static void test_stuck_method_does_not_wedge_free(void) {
    interlink_hub_host_builder *b = NULL;
    CHECK_OK(interlink_hub_host_builder_new(&b));
    CHECK_OK(interlink_hub_host_builder_add_method(b, "hang", 0, hang, NULL));
    CHECK_CODE(interlink_hub_host_builder_add_method(b, "", 0, hang, NULL), INTERLINK_RESULT_INVALID_ARGUMENT);
    interlink_hub_host *h = NULL;
    interlink_hub_host_options ho = {0};
    ho.protocols = INTERLINK_HUB_PROTOCOLS_JSON;
    CHECK_OK(interlink_hub_host_start(b, NULL, "stuck/", &ho, &h));
    interlink_hub_host_builder_free(b);
    if (!h) return;
    char *url = NULL;
    CHECK_OK(interlink_hub_host_url(h, &url));
    CHECK(url && strncmp(url, "http://127.0.0.1:", 17) == 0 && strstr(url, "/stuck") != NULL);
    /* The host only speaks JSON. */
    interlink_hub_connect_options o = {0};
    o.protocol = INTERLINK_HUB_PROTOCOL_MESSAGEPACK;
    interlink_hub_connection *refused = NULL;
    CHECK(interlink_hub_connect(url, &o, &refused) != OK);
    interlink_hub_connection *c = connect_to(url, INTERLINK_HUB_PROTOCOL_JSON);
    interlink_string_free(url);
    CHECK(c != NULL);
    if (c) {
        atomic_store(&hang_started, 0);
        atomic_store(&hang_release, 0);
        pthread_t t;
        pthread_create(&t, NULL, invoke_hang, c);
        uint64_t deadline = now_ms() + WAIT_MS;
        while (!atomic_load(&hang_started) && now_ms() < deadline) sleep_ms(5);
        CHECK(atomic_load(&hang_started));
        uint64_t start = now_ms();
        interlink_hub_host_free(h);
        uint64_t took = now_ms() - start;
        CHECK(took < 9000);
        void *ret = NULL;
        pthread_join(t, &ret);
        CHECK((interlink_result)(intptr_t)ret == INTERLINK_RESULT_CLOSED);
        atomic_store(&hang_release, 1);
        interlink_hub_connection_free(c);
        sleep_ms(50); /* let the released method return before the process ends */
    } else {
        interlink_hub_host_free(h);
    }
}

int main(void) {
    interlink_hub_host_builder *b = new_builder();
    interlink_hub_host_options o = {0};
    o.max_parallel_invocations = 4;
    if (!b || interlink_hub_host_start(b, "127.0.0.1:0", "/chat", &o, &host) != OK ||
        interlink_hub_host_url(host, &host_url) != OK) {
        fprintf(stderr, "host: %s\n", interlink_last_error_message());
        return 1;
    }
    interlink_hub_host_builder_free(b);

    RUN(test_invoke_json_and_messagepack);
    RUN(test_connection_basics);
    RUN(test_argument_errors);
    RUN(test_hub_errors);
    RUN(test_stream_cancel);
    RUN(test_stream_timeout);
    RUN(test_send_and_broadcast);
    RUN(test_client_results);
    RUN(test_groups);
    RUN(test_demo_server);
    RUN(test_stuck_method_does_not_wedge_free);

    CHECK_OK(interlink_hub_host_stop(host));
    interlink_hub_host_free(host);
    interlink_string_free(host_url);
    return check_report();
}
