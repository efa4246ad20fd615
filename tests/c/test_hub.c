/* Tests of interlink's SignalR hub C API: the codec (golden vectors of the spec, byte-by-byte
 * feeding, encoding into library- and caller-owned buffers, transcoding), and a client and a
 * server connection wired together in memory and driven in virtual time (handshake, calls,
 * streams, uploads, server→client results, keep-alive, timeouts, stateful reconnect), plus
 * the result codes of misuse. No sockets, no threads; also run under valgrind by
 * tests/c/run.sh. */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

#define JSON INTERLINK_HUB_PROTOCOL_JSON
#define MSGPACK INTERLINK_HUB_PROTOCOL_MESSAGEPACK
#define OK INTERLINK_RESULT_OK
#define K(name) INTERLINK_HUB_EVENT_KIND_##name

/* ---------------------------------------------------------------- codec ---------------- */

/* The spec's MessagePack Invocation {id "xyz", target "method", arguments [42]} with its
 * VarInt length prefix (0x11 = 17 body bytes). */
static const uint8_t MP_INVOCATION[] = {0x11, 0x96, 0x01, 0x80, 0xa3, 0x78, 0x79, 0x7a, 0xa6,
                                        0x6d, 0x65, 0x74, 0x68, 0x6f, 0x64, 0x91, 0x2a, 0x90};

static const char JSON_INVOCATION[] =
    "{\"type\":1,\"headers\":{\"a\":\"b\",\"c\":\"d\"},\"invocationId\":\"1\",\"target\":\"m\","
    "\"arguments\":[1,\"x\"],\"streamIds\":[\"2\"]}\x1e";

static int bytes_equal(const uint8_t *a, size_t alen, const void *b, size_t blen) {
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static void test_msgpack_golden_byte_by_byte(void) {
    interlink_hub_decoder *d = NULL;
    CHECK_OK(interlink_hub_decoder_new(MSGPACK, 0, &d));
    interlink_hub_message m;
    for (size_t i = 0; i + 1 < sizeof MP_INVOCATION; i++) {
        CHECK_OK(interlink_hub_decoder_feed(d, MP_INVOCATION + i, 1));
        CHECK_CODE(interlink_hub_decoder_poll(d, &m), INTERLINK_RESULT_WOULD_BLOCK);
    }
    size_t buffered = 0;
    CHECK_OK(interlink_hub_decoder_buffered_len(d, &buffered));
    CHECK(buffered == sizeof MP_INVOCATION - 1);
    CHECK_OK(interlink_hub_decoder_feed(d, MP_INVOCATION + sizeof MP_INVOCATION - 1, 1));
    CHECK_OK(interlink_hub_decoder_poll(d, &m));
    CHECK(m.message_type == INTERLINK_HUB_MESSAGE_TYPE_INVOCATION);
    CHECK_STR(m.invocation_id, "xyz");
    CHECK_STR(m.target, "method");
    CHECK(m.headers_len == 0 && m.headers == NULL);
    CHECK(m.stream_ids_len == 0 && m.stream_ids == NULL);
    CHECK(m.arguments_len == 1 && m.arguments[0].len == 1 && m.arguments[0].data[0] == 0x2a);
    /* The view encodes back to the same bytes: library-owned... */
    interlink_bytes frame = {NULL, 0};
    CHECK_OK(interlink_hub_encode(MSGPACK, &m, &frame));
    CHECK(bytes_equal(frame.data, frame.len, MP_INVOCATION, sizeof MP_INVOCATION));
    interlink_bytes_free(&frame);
    /* ...and caller-owned: too small reports the length needed. */
    uint8_t buf[64];
    size_t len = 0;
    CHECK_CODE(interlink_hub_encode_into(MSGPACK, &m, NULL, 0, &len), INTERLINK_RESULT_BUFFER_TOO_SMALL);
    CHECK(len == sizeof MP_INVOCATION);
    CHECK_CODE(interlink_hub_encode_into(MSGPACK, &m, buf, 5, &len), INTERLINK_RESULT_BUFFER_TOO_SMALL);
    CHECK_STR(interlink_result_name(INTERLINK_RESULT_BUFFER_TOO_SMALL), "INTERLINK_RESULT_BUFFER_TOO_SMALL");
    CHECK_OK(interlink_hub_encode_into(MSGPACK, &m, buf, sizeof buf, &len));
    CHECK(bytes_equal(buf, len, MP_INVOCATION, sizeof MP_INVOCATION));
    CHECK_CODE(interlink_hub_decoder_poll(d, &m), INTERLINK_RESULT_WOULD_BLOCK);
    interlink_hub_decoder_free(d);
}

static void test_json_golden_byte_by_byte(void) {
    interlink_hub_decoder *d = NULL;
    CHECK_OK(interlink_hub_decoder_new(JSON, 0, &d));
    size_t n = sizeof JSON_INVOCATION - 1; /* without the C string's NUL */
    interlink_hub_message m;
    int got = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK_OK(interlink_hub_decoder_feed(d, (const uint8_t *)JSON_INVOCATION + i, 1));
        interlink_result r = interlink_hub_decoder_poll(d, &m);
        if (r == OK) got++;
        CHECK(r == (i + 1 == n ? OK : INTERLINK_RESULT_WOULD_BLOCK));
    }
    CHECK(got == 1);
    CHECK(m.message_type == INTERLINK_HUB_MESSAGE_TYPE_INVOCATION);
    CHECK_STR(m.invocation_id, "1");
    CHECK_STR(m.target, "m");
    CHECK(m.headers_len == 2);
    if (m.headers_len == 2) {
        CHECK_STR(m.headers[0].name, "a");
        CHECK_STR(m.headers[0].value, "b");
        CHECK_STR(m.headers[1].name, "c");
        CHECK_STR(m.headers[1].value, "d");
    }
    CHECK(m.arguments_len == 2);
    if (m.arguments_len == 2) {
        CHECK(bytes_equal(m.arguments[0].data, m.arguments[0].len, "1", 1));
        CHECK(bytes_equal(m.arguments[1].data, m.arguments[1].len, "\"x\"", 3));
    }
    CHECK(m.stream_ids_len == 1 && m.stream_ids && strcmp(m.stream_ids[0], "2") == 0);
    interlink_bytes frame = {NULL, 0};
    CHECK_OK(interlink_hub_encode(JSON, &m, &frame));
    CHECK(bytes_equal(frame.data, frame.len, JSON_INVOCATION, n));
    /* The same message in MessagePack: the values are transcoded by the caller. */
    interlink_bytes one = {NULL, 0}, x = {NULL, 0};
    CHECK_OK(interlink_hub_transcode(JSON, m.arguments[0].data, m.arguments[0].len, MSGPACK, &one));
    CHECK_OK(interlink_hub_transcode(JSON, m.arguments[1].data, m.arguments[1].len, MSGPACK, &x));
    CHECK(bytes_equal(one.data, one.len, "\x01", 1) && bytes_equal(x.data, x.len, "\xa1x", 2));
    interlink_hub_value args[2] = {{one.data, one.len}, {x.data, x.len}};
    m.arguments = args;
    interlink_bytes mp = {NULL, 0};
    CHECK_OK(interlink_hub_encode(MSGPACK, &m, &mp));
    CHECK(mp.len > 0 && mp.data[0] == mp.len - 1);
    interlink_bytes_free(&mp);
    interlink_bytes_free(&one);
    interlink_bytes_free(&x);
    interlink_bytes_free(&frame);
    interlink_hub_decoder_free(d);
}

static void test_other_message_types_round_trip(void) {
    /* Every type through encode → decode, in both protocols. */
    for (uint32_t proto = 0; proto < 2; proto++) {
        const char *v = proto == JSON ? "42" : "\x2a";
        size_t vlen = proto == JSON ? 2 : 1;
        interlink_hub_message in[5];
        memset(in, 0, sizeof in);
        in[0].message_type = INTERLINK_HUB_MESSAGE_TYPE_STREAM_ITEM;
        in[0].invocation_id = "s";
        in[0].item.data = (const uint8_t *)v;
        in[0].item.len = vlen;
        in[1].message_type = INTERLINK_HUB_MESSAGE_TYPE_COMPLETION;
        in[1].invocation_id = "c";
        in[1].result_kind = INTERLINK_HUB_RESULT_KIND_ERROR;
        in[1].error = "bo\"om";
        in[2].message_type = INTERLINK_HUB_MESSAGE_TYPE_CLOSE;
        in[2].error = "bye";
        in[2].allow_reconnect = true;
        in[3].message_type = INTERLINK_HUB_MESSAGE_TYPE_SEQUENCE;
        in[3].sequence_id = 77;
        in[4].message_type = INTERLINK_HUB_MESSAGE_TYPE_PING;
        interlink_hub_decoder *d = NULL;
        CHECK_OK(interlink_hub_decoder_new(proto, 0, &d));
        for (int i = 0; i < 5; i++) {
            interlink_bytes f = {NULL, 0};
            CHECK_OK(interlink_hub_encode(proto, &in[i], &f));
            CHECK_OK(interlink_hub_decoder_feed(d, f.data, f.len));
            interlink_bytes_free(&f);
        }
        interlink_hub_message m;
        CHECK_OK(interlink_hub_decoder_poll(d, &m));
        CHECK(m.message_type == 2 && bytes_equal(m.item.data, m.item.len, v, vlen));
        CHECK_OK(interlink_hub_decoder_poll(d, &m));
        CHECK(m.message_type == 3 && m.result_kind == INTERLINK_HUB_RESULT_KIND_ERROR);
        CHECK_STR(m.error, "bo\"om");
        CHECK_OK(interlink_hub_decoder_poll(d, &m));
        CHECK(m.message_type == 7 && m.allow_reconnect);
        CHECK_STR(m.error, "bye");
        CHECK_OK(interlink_hub_decoder_poll(d, &m));
        CHECK(m.message_type == 9 && m.sequence_id == 77);
        CHECK_OK(interlink_hub_decoder_poll(d, &m));
        CHECK(m.message_type == INTERLINK_HUB_MESSAGE_TYPE_PING && m.invocation_id == NULL);
        CHECK_CODE(interlink_hub_decoder_poll(d, &m), INTERLINK_RESULT_WOULD_BLOCK);
        interlink_hub_decoder_free(d);
    }
}

static void test_transcode(void) {
    const char *json = "{\"a\":[1,\"x\"],\"b\":null}";
    const uint8_t expected[] = {0x82, 0xa1, 0x61, 0x92, 0x01, 0xa1, 0x78, 0xa1, 0x62, 0xc0};
    interlink_bytes mp = {NULL, 0}, back = {NULL, 0};
    CHECK_OK(interlink_hub_transcode(JSON, (const uint8_t *)json, strlen(json), MSGPACK, &mp));
    CHECK(bytes_equal(mp.data, mp.len, expected, sizeof expected));
    CHECK_OK(interlink_hub_transcode(MSGPACK, mp.data, mp.len, JSON, &back));
    CHECK(bytes_equal(back.data, back.len, json, strlen(json)));
    interlink_bytes_free(&mp);
    interlink_bytes_free(&back);
    /* Not one value; no JSON form for NaN; an unknown protocol. */
    interlink_bytes out = {NULL, 0};
    CHECK_CODE(interlink_hub_transcode(JSON, (const uint8_t *)"1,2", 3, MSGPACK, &out),
               INTERLINK_RESULT_INVALID_ARGUMENT);
    CHECK(strstr(interlink_last_error_message(), "JSON") != NULL);
    const uint8_t nan[] = {0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0};
    CHECK_CODE(interlink_hub_transcode(MSGPACK, nan, sizeof nan, JSON, &out), INTERLINK_RESULT_INVALID_ARGUMENT);
    CHECK(strstr(interlink_last_error_message(), "NaN") != NULL);
    CHECK_CODE(interlink_hub_transcode(7, (const uint8_t *)"1", 1, JSON, &out), INTERLINK_RESULT_INVALID_ARGUMENT);
    CHECK(out.data == NULL && out.len == 0);
}

static void test_codec_errors(void) {
    interlink_hub_decoder *d = NULL;
    interlink_hub_message m;
    /* Unknown types are skipped. */
    CHECK_OK(interlink_hub_decoder_new(JSON, 0, &d));
    const char *two = "{\"type\":99,\"x\":1}\x1e{\"type\":6}\x1e";
    CHECK_OK(interlink_hub_decoder_feed(d, (const uint8_t *)two, strlen(two)));
    CHECK_OK(interlink_hub_decoder_poll(d, &m));
    CHECK(m.message_type == INTERLINK_HUB_MESSAGE_TYPE_PING);
    uint64_t skipped = 0;
    CHECK_OK(interlink_hub_decoder_skipped_unknown(d, &skipped));
    CHECK(skipped == 1);
    /* Garbage: PROTOCOL, and the decoder stays failed. */
    CHECK_OK(interlink_hub_decoder_feed(d, (const uint8_t *)"nope\x1e", 5));
    CHECK_CODE(interlink_hub_decoder_poll(d, &m), INTERLINK_RESULT_PROTOCOL);
    CHECK(strstr(interlink_last_error_message(), "JSON") != NULL);
    CHECK_CODE(interlink_hub_decoder_poll(d, &m), INTERLINK_RESULT_PROTOCOL);
    interlink_hub_decoder_free(d);
    /* Over the size limit, before the whole message arrived. */
    CHECK_OK(interlink_hub_decoder_new(MSGPACK, 16, &d));
    const uint8_t big_prefix[] = {0x40}; /* announces 64 bytes */
    CHECK_OK(interlink_hub_decoder_feed(d, big_prefix, 1));
    CHECK_CODE(interlink_hub_decoder_poll(d, &m), INTERLINK_RESULT_PROTOCOL);
    CHECK(strstr(interlink_last_error_message(), "maximum message size") != NULL);
    interlink_hub_decoder_free(d);
    /* Encoding: bad type, missing required fields, a value that is not one value. */
    interlink_hub_message e;
    memset(&e, 0, sizeof e);
    interlink_bytes f = {NULL, 0};
    e.message_type = 42;
    CHECK_CODE(interlink_hub_encode(JSON, &e, &f), INTERLINK_RESULT_INVALID_ARGUMENT);
    e.message_type = INTERLINK_HUB_MESSAGE_TYPE_STREAM_INVOCATION;
    e.target = "m";
    CHECK_CODE(interlink_hub_encode(JSON, &e, &f), INTERLINK_RESULT_NULL_POINTER);
    CHECK(strstr(interlink_last_error_message(), "invocation_id") != NULL);
    e.invocation_id = "1";
    interlink_hub_value bad = {(const uint8_t *)"1}", 2};
    e.arguments = &bad;
    e.arguments_len = 1;
    CHECK_CODE(interlink_hub_encode(JSON, &e, &f), INTERLINK_RESULT_INVALID_ARGUMENT);
    CHECK(strstr(interlink_last_error_message(), "arguments[0]") != NULL);
    const uint8_t truncated[] = {0xa3, 'a'};
    interlink_hub_value bad_mp = {truncated, sizeof truncated};
    e.arguments = &bad_mp;
    CHECK_CODE(interlink_hub_encode(MSGPACK, &e, &f), INTERLINK_RESULT_INVALID_ARGUMENT);
    e.arguments_len = 0;
    CHECK_OK(interlink_hub_encode(MSGPACK, &e, &f));
    interlink_bytes_free(&f);
    CHECK_CODE(interlink_hub_encode(JSON, NULL, &f), INTERLINK_RESULT_NULL_POINTER);
    CHECK_CODE(interlink_hub_decoder_new(2, 0, &d), INTERLINK_RESULT_INVALID_ARGUMENT);
    CHECK_CODE(interlink_hub_decoder_poll(NULL, &m), INTERLINK_RESULT_NULL_POINTER);
    interlink_hub_decoder_free(NULL);
}

/* ------------------------------------------------------ client ↔ server pair ---------- */

#define MAX_EVENTS 256

/* An event, copied out of the borrowed view. `value` is the first argument, the item or the
 * result. */
typedef struct {
    interlink_hub_event_kind kind;
    char id[32], target[64], error[256], stream_id[32];
    uint8_t value[64];
    size_t value_len, args_len, stream_ids_len;
    interlink_hub_result_kind result_kind;
    interlink_hub_close_reason reason;
    bool allow_reconnect, stateful;
    uint32_t version;
    interlink_hub_protocol protocol;
} rec;

typedef struct {
    interlink_hub_client *client;
    interlink_hub_server *server;
    uint32_t protocol;
    uint64_t now;
    bool link_up, server_muted, client_muted;
    rec cev[MAX_EVENTS], sev[MAX_EVENTS];
    int n_cev, n_sev;
    int client_frames, server_frames;
    uint8_t first_server_frame[32];
    size_t first_server_frame_len;
    bool first_server_frame_binary, first_client_frame_binary;
} pair;

static void copy_str(char *dst, size_t cap, const char *src) {
    snprintf(dst, cap, "%s", src ? src : "");
}

static void copy_value(rec *r, interlink_hub_value v) {
    r->value_len = v.len < sizeof r->value ? v.len : sizeof r->value;
    if (r->value_len) memcpy(r->value, v.data, r->value_len);
}

static void record(rec *r, const interlink_hub_event *e) {
    memset(r, 0, sizeof *r);
    r->kind = e->kind;
    copy_str(r->id, sizeof r->id, e->invocation_id);
    copy_str(r->target, sizeof r->target, e->target);
    copy_str(r->error, sizeof r->error, e->error);
    r->args_len = e->arguments_len;
    r->stream_ids_len = e->stream_ids_len;
    if (e->stream_ids_len) copy_str(r->stream_id, sizeof r->stream_id, e->stream_ids[0]);
    if (e->arguments_len) copy_value(r, e->arguments[0]);
    if (e->item.len) copy_value(r, e->item);
    if (e->result.len) copy_value(r, e->result);
    r->result_kind = e->result_kind;
    r->reason = e->close_reason;
    r->allow_reconnect = e->allow_reconnect;
    r->stateful = e->stateful;
    r->version = e->version;
    r->protocol = e->protocol;
}

/* Moves frames both ways until nothing moves, recording events. */
static void pair_pump(pair *p) {
    for (int guard = 0; guard < 100000; guard++) {
        int moved = 0;
        interlink_hub_transmit t;
        while (interlink_hub_client_poll_transmit(p->client, &t) == OK) {
            moved = 1;
            if (p->client_frames++ == 0) p->first_client_frame_binary = t.binary;
            if (p->link_up && !p->client_muted)
                interlink_hub_server_handle_data(p->server, t.data, t.len, p->now);
        }
        while (interlink_hub_server_poll_transmit(p->server, &t) == OK) {
            moved = 1;
            if (p->server_frames++ == 0) {
                p->first_server_frame_len = t.len < 32 ? t.len : 32;
                memcpy(p->first_server_frame, t.data, p->first_server_frame_len);
                p->first_server_frame_binary = t.binary;
            }
            if (p->link_up && !p->server_muted)
                interlink_hub_client_handle_data(p->client, t.data, t.len, p->now);
        }
        interlink_hub_event e;
        while (interlink_hub_client_poll_event(p->client, &e) == OK) {
            moved = 1;
            if (p->n_cev < MAX_EVENTS) record(&p->cev[p->n_cev++], &e);
        }
        while (interlink_hub_server_poll_event(p->server, &e) == OK) {
            moved = 1;
            if (p->n_sev < MAX_EVENTS) record(&p->sev[p->n_sev++], &e);
        }
        if (!moved) return;
    }
}

/* Advances virtual time to `until`, firing every deadline on the way. */
static void pair_run_until(pair *p, uint64_t until) {
    pair_pump(p);
    for (int guard = 0; guard < 100000; guard++) {
        uint64_t at = 0, next = UINT64_MAX;
        if (interlink_hub_client_poll_timeout(p->client, &at) == OK) next = at;
        if (interlink_hub_server_poll_timeout(p->server, &at) == OK && at < next) next = at;
        if (next > until) break;
        if (next > p->now) p->now = next;
        interlink_hub_client_handle_timeout(p->client, p->now);
        interlink_hub_server_handle_timeout(p->server, p->now);
        pair_pump(p);
    }
    p->now = until;
    pair_pump(p);
}

static pair *pair_new(uint32_t protocol, bool stateful, const interlink_hub_options *options) {
    pair *p = calloc(1, sizeof *p);
    p->protocol = protocol;
    p->now = 1000;
    p->link_up = true;
    if (interlink_hub_server_new(options, INTERLINK_HUB_TRANSFER_FORMAT_BINARY, stateful,
                                 INTERLINK_HUB_PROTOCOLS_ALL, p->now, &p->server) != OK ||
        interlink_hub_client_new(options, protocol, stateful, p->now, &p->client) != OK) {
        fprintf(stderr, "  pair_new: %s\n", interlink_last_error_message());
    }
    pair_pump(p);
    return p;
}

static void pair_free(pair *p) {
    interlink_hub_client_free(p->client);
    interlink_hub_server_free(p->server);
    free(p);
}

static void take(pair *p) {
    p->n_cev = 0;
    p->n_sev = 0;
}

/* The last recorded event of `kind` (NULL when none). */
static const rec *find(const rec *events, int n, interlink_hub_event_kind kind) {
    for (int i = n - 1; i >= 0; i--)
        if (events[i].kind == kind) return &events[i];
    return NULL;
}

static int count(const rec *events, int n, interlink_hub_event_kind kind) {
    int c = 0;
    for (int i = 0; i < n; i++) c += events[i].kind == kind;
    return c;
}

/* A small non-negative integer as a value in `protocol` (JSON text or a MessagePack
 * positive fixint), and back. */
typedef struct {
    uint8_t b[8];
    size_t len;
} small_value;

static small_value int_value(uint32_t protocol, int v) {
    small_value s;
    if (protocol == JSON) {
        s.len = (size_t)snprintf((char *)s.b, sizeof s.b, "%d", v);
    } else {
        s.b[0] = (uint8_t)v; /* 0..127 */
        s.len = 1;
    }
    return s;
}

static int int_of(uint32_t protocol, const uint8_t *data, size_t len) {
    if (protocol == JSON) {
        char text[16];
        copy_str(text, sizeof text, "");
        snprintf(text, sizeof text, "%.*s", (int)len, (const char *)data);
        return atoi(text);
    }
    return len == 1 ? data[0] : -1;
}

static void test_pair_handshake(void) {
    for (uint32_t proto = 0; proto < 2; proto++) {
        pair *p = pair_new(proto, false, NULL);
        const rec *c = find(p->cev, p->n_cev, K(CONNECTED));
        const rec *s = find(p->sev, p->n_sev, K(CONNECTED));
        CHECK(c && s && p->n_cev == 1 && p->n_sev == 1);
        CHECK(s && s->version == 1 && !s->stateful && s->protocol == proto);
        /* The handshake goes as text; the server's answer is its own frame, binary for
         * MessagePack. */
        CHECK(!p->first_client_frame_binary);
        CHECK(bytes_equal(p->first_server_frame, p->first_server_frame_len, "{}\x1e", 3));
        CHECK(p->first_server_frame_binary == (proto == MSGPACK));
        bool open = false;
        CHECK_OK(interlink_hub_client_is_open(p->client, &open));
        CHECK(open);
        interlink_hub_negotiated n;
        CHECK_OK(interlink_hub_server_negotiated(p->server, &n));
        CHECK(n.protocol == proto && n.version == 1 && !n.stateful);
        pair_free(p);
    }
}

static void test_pair_invoke_echo_round_trip(void) {
    for (uint32_t proto = 0; proto < 2; proto++) {
        pair *p = pair_new(proto, false, NULL);
        take(p);
        small_value v = int_value(proto, 42);
        interlink_hub_value arg = {v.b, v.len};
        char *id = NULL;
        CHECK_OK(interlink_hub_client_invoke(p->client, "echo", &arg, 1, NULL, 0, p->now, &id));
        CHECK_STR(id, "0");
        pair_pump(p);
        const rec *inv = find(p->sev, p->n_sev, K(INVOCATION));
        CHECK(inv && strcmp(inv->target, "echo") == 0 && strcmp(inv->id, "0") == 0 && inv->args_len == 1);
        /* The server echoes the argument bytes as the result. */
        if (inv) {
            CHECK_OK(interlink_hub_server_complete(p->server, inv->id, INTERLINK_HUB_RESULT_KIND_VALUE,
                                                   inv->value, inv->value_len, NULL, p->now));
        }
        pair_pump(p);
        const rec *done = find(p->cev, p->n_cev, K(COMPLETION));
        CHECK(done && strcmp(done->id, id) == 0 && done->result_kind == INTERLINK_HUB_RESULT_KIND_VALUE);
        CHECK(done && int_of(proto, done->value, done->value_len) == 42);
        /* A second completion for the finished call is refused locally. */
        CHECK_CODE(interlink_hub_server_complete(p->server, "0", INTERLINK_HUB_RESULT_KIND_VOID, NULL, 0, NULL, p->now),
                   INTERLINK_RESULT_NOT_FOUND);
        interlink_string_free(id);
        /* Non-blocking: no id, nothing to answer. */
        take(p);
        CHECK_OK(interlink_hub_client_send(p->client, "broadcast", &arg, 1, NULL, 0, p->now));
        pair_pump(p);
        inv = find(p->sev, p->n_sev, K(INVOCATION));
        CHECK(inv && inv->id[0] == '\0' && strcmp(inv->target, "broadcast") == 0);
        /* An error result reaches the caller as text. */
        take(p);
        CHECK_OK(interlink_hub_client_invoke(p->client, "fail", NULL, 0, NULL, 0, p->now, NULL));
        pair_pump(p);
        inv = find(p->sev, p->n_sev, K(INVOCATION));
        CHECK(inv && inv->args_len == 0);
        if (inv) {
            CHECK_OK(interlink_hub_server_complete(p->server, inv->id, INTERLINK_HUB_RESULT_KIND_ERROR, NULL, 0,
                                                   "it broke", p->now));
        }
        pair_pump(p);
        done = find(p->cev, p->n_cev, K(COMPLETION));
        CHECK(done && done->result_kind == INTERLINK_HUB_RESULT_KIND_ERROR && strcmp(done->error, "it broke") == 0);
        interlink_hub_stats st;
        CHECK_OK(interlink_hub_client_stats(p->client, &st));
        CHECK(st.messages_sent == 3 && st.messages_received == 2);
        pair_free(p);
    }
}

static void test_pair_stream_with_cancel(void) {
    for (uint32_t proto = 0; proto < 2; proto++) {
        pair *p = pair_new(proto, false, NULL);
        take(p);
        char *id = NULL;
        CHECK_OK(interlink_hub_client_stream(p->client, "counter", NULL, 0, NULL, 0, p->now, &id));
        pair_pump(p);
        CHECK(find(p->sev, p->n_sev, K(STREAM_INVOCATION)) != NULL);
        for (int i = 0; i < 3; i++) {
            small_value v = int_value(proto, i);
            CHECK_OK(interlink_hub_server_stream_item(p->server, id, v.b, v.len, p->now));
        }
        pair_pump(p);
        CHECK(count(p->cev, p->n_cev, K(STREAM_ITEM)) == 3);
        for (int i = 0; i < p->n_cev && i < 3; i++)
            CHECK(int_of(proto, p->cev[i].value, p->cev[i].value_len) == i && strcmp(p->cev[i].id, id) == 0);
        take(p);
        CHECK_OK(interlink_hub_client_cancel(p->client, id, p->now));
        pair_pump(p);
        const rec *cancel = find(p->sev, p->n_sev, K(CANCEL));
        CHECK(cancel && strcmp(cancel->id, id) == 0);
        /* Items after the cancel are refused; the Completion still ends the call. */
        small_value nine = int_value(proto, 9);
        CHECK_CODE(interlink_hub_server_stream_item(p->server, id, nine.b, nine.len, p->now),
                   INTERLINK_RESULT_NOT_FOUND);
        CHECK_OK(interlink_hub_server_complete(p->server, id, INTERLINK_HUB_RESULT_KIND_VOID, NULL, 0, NULL, p->now));
        pair_pump(p);
        const rec *done = find(p->cev, p->n_cev, K(COMPLETION));
        CHECK(done && strcmp(done->id, id) == 0 && done->result_kind == INTERLINK_HUB_RESULT_KIND_VOID);
        CHECK(count(p->cev, p->n_cev, K(STREAM_ITEM)) == 0);
        CHECK_CODE(interlink_hub_client_cancel(p->client, "nope", p->now), INTERLINK_RESULT_NOT_FOUND);
        interlink_string_free(id);
        pair_free(p);
    }
}

static void test_pair_upload_stream(void) {
    pair *p = pair_new(MSGPACK, false, NULL);
    take(p);
    char *sid = NULL, *call = NULL;
    CHECK_OK(interlink_hub_client_new_stream_id(p->client, &sid));
    const char *ids[1] = {sid};
    CHECK_OK(interlink_hub_client_invoke(p->client, "sum", NULL, 0, ids, 1, p->now, &call));
    CHECK(sid && call && strcmp(sid, call) != 0);
    for (int i = 1; i <= 2; i++) {
        small_value v = int_value(MSGPACK, i);
        CHECK_OK(interlink_hub_client_upload_item(p->client, sid, v.b, v.len, p->now));
    }
    CHECK_OK(interlink_hub_client_upload_complete(p->client, sid, NULL, p->now));
    pair_pump(p);
    CHECK(p->n_sev == 4);
    if (p->n_sev == 4) {
        CHECK(p->sev[0].kind == K(INVOCATION) && p->sev[0].stream_ids_len == 1 && strcmp(p->sev[0].stream_id, sid) == 0);
        CHECK(p->sev[1].kind == K(UPLOAD_ITEM) && p->sev[1].value[0] == 1 && strcmp(p->sev[1].id, sid) == 0);
        CHECK(p->sev[2].kind == K(UPLOAD_ITEM) && p->sev[2].value[0] == 2);
        CHECK(p->sev[3].kind == K(UPLOAD_COMPLETE) && p->sev[3].error[0] == '\0');
    }
    interlink_string_free(sid);
    interlink_string_free(call);
    pair_free(p);
}

static void test_pair_server_calls_client_with_result(void) {
    for (uint32_t proto = 0; proto < 2; proto++) {
        pair *p = pair_new(proto, false, NULL);
        take(p);
        small_value seven = int_value(proto, 7);
        interlink_hub_value arg = {seven.b, seven.len};
        char *id = NULL;
        CHECK_OK(interlink_hub_server_invoke_with_result(p->server, "question", &arg, 1, p->now, &id));
        pair_pump(p);
        const rec *inv = find(p->cev, p->n_cev, K(INVOCATION));
        CHECK(inv && id && strcmp(inv->id, id) == 0 && strcmp(inv->target, "question") == 0);
        CHECK(inv && int_of(proto, inv->value, inv->value_len) == 7);
        small_value answer = int_value(proto, 49);
        CHECK_OK(interlink_hub_client_complete_server_call(p->client, id, INTERLINK_HUB_RESULT_KIND_VALUE,
                                                           answer.b, answer.len, NULL, p->now));
        /* Answered once only. */
        CHECK_CODE(interlink_hub_client_complete_server_call(p->client, id, INTERLINK_HUB_RESULT_KIND_VOID, NULL, 0,
                                                             NULL, p->now),
                   INTERLINK_RESULT_NOT_FOUND);
        pair_pump(p);
        const rec *r = find(p->sev, p->n_sev, K(CLIENT_RESULT));
        CHECK(r && strcmp(r->id, id) == 0 && r->result_kind == INTERLINK_HUB_RESULT_KIND_VALUE);
        CHECK(r && int_of(proto, r->value, r->value_len) == 49);
        interlink_string_free(id);
        /* A message encoded once (e.g. for many connections) goes out as it is. */
        take(p);
        interlink_hub_message m;
        memset(&m, 0, sizeof m);
        m.message_type = INTERLINK_HUB_MESSAGE_TYPE_INVOCATION;
        m.target = "news";
        m.arguments = &arg;
        m.arguments_len = 1;
        interlink_bytes frame = {NULL, 0};
        CHECK_OK(interlink_hub_encode(proto, &m, &frame));
        CHECK_OK(interlink_hub_server_send_encoded(p->server, frame.data, frame.len, true, p->now));
        interlink_bytes_free(&frame);
        pair_pump(p);
        inv = find(p->cev, p->n_cev, K(INVOCATION));
        CHECK(inv && strcmp(inv->target, "news") == 0 && inv->id[0] == '\0');
        pair_free(p);
    }
}

static void test_pair_keep_alive_and_timeout(void) {
    pair *p = pair_new(JSON, false, NULL);
    /* Both sides last sent at 1000: the server's next Ping is due 15 s later. */
    uint64_t at = 0;
    CHECK_OK(interlink_hub_server_poll_timeout(p->server, &at));
    CHECK(at == 16000);
    pair_run_until(p, 15999);
    interlink_hub_stats st;
    CHECK_OK(interlink_hub_server_stats(p->server, &st));
    CHECK(st.pings_sent == 0);
    pair_run_until(p, 16000);
    CHECK_OK(interlink_hub_server_stats(p->server, &st));
    CHECK(st.pings_sent == 1);
    CHECK_OK(interlink_hub_client_stats(p->client, &st));
    CHECK(st.pings_received == 1 && st.pings_sent == 1);
    /* A pair that talks stays up for minutes. */
    pair_run_until(p, 121000);
    bool open = false;
    CHECK_OK(interlink_hub_client_is_open(p->client, &open));
    CHECK(open);
    pair_free(p);

    /* A muted server: the client gives up exactly 30 s after the last thing it received. */
    p = pair_new(JSON, false, NULL);
    take(p);
    p->server_muted = true;
    pair_run_until(p, 30999);
    CHECK_OK(interlink_hub_client_is_open(p->client, &open));
    CHECK(open && find(p->cev, p->n_cev, K(CLOSED)) == NULL);
    pair_run_until(p, 31000);
    const rec *closed = find(p->cev, p->n_cev, K(CLOSED));
    CHECK(closed && closed->reason == INTERLINK_HUB_CLOSE_REASON_TIMED_OUT);
    CHECK(closed && strcmp(closed->error, "Server timeout elapsed without receiving a message from the server.") == 0);
    CHECK_CODE(interlink_hub_client_poll_timeout(p->client, &at), INTERLINK_RESULT_WOULD_BLOCK);
    pair_free(p);

    /* A silent client is closed by the server, which tells it why. */
    p = pair_new(MSGPACK, false, NULL);
    take(p);
    p->client_muted = true;
    pair_run_until(p, 31000);
    closed = find(p->sev, p->n_sev, K(CLOSED));
    CHECK(closed && closed->reason == INTERLINK_HUB_CLOSE_REASON_TIMED_OUT);
    closed = find(p->cev, p->n_cev, K(CLOSED));
    CHECK(closed && closed->reason == INTERLINK_HUB_CLOSE_REASON_PEER_CLOSED &&
          strcmp(closed->error, "Connection closed with an error.") == 0);
    pair_free(p);

    /* Keep-alive off (long polling): silence is fine. */
    interlink_hub_options o = {0};
    o.keep_alive_disabled = true;
    p = pair_new(JSON, false, &o);
    p->client_muted = p->server_muted = true;
    pair_run_until(p, 600000);
    CHECK_OK(interlink_hub_server_is_open(p->server, &open));
    CHECK(open);
    CHECK_OK(interlink_hub_server_stats(p->server, &st));
    CHECK(st.pings_sent == 0);
    pair_free(p);
}

/* The Rust connection test's scenario, from C: six transport losses with frames in flight,
 * acks flowing for some of it; every message arrives exactly once, in order. */
static void test_pair_stateful_exactly_once(void) {
    for (uint32_t proto = 0; proto < 2; proto++) {
        pair *p = pair_new(proto, true, NULL);
        const rec *s = find(p->sev, p->n_sev, K(CONNECTED));
        CHECK(s && s->version == 2 && s->stateful);
        take(p);
        int down = 0, up = 0;
        for (int round = 0; round < 6; round++) {
            for (int i = 0; i < 5; i++) {
                small_value d = int_value(proto, down++), u = int_value(proto, up++);
                interlink_hub_value dv = {d.b, d.len}, uv = {u.b, u.len};
                CHECK_OK(interlink_hub_server_invoke(p->server, "down", &dv, 1, p->now));
                CHECK_OK(interlink_hub_client_send(p->client, "up", &uv, 1, NULL, 0, p->now));
            }
            if (round % 2 == 0) pair_run_until(p, p->now + 1500);
            /* The socket dies with frames in flight. */
            p->link_up = false;
            small_value d = int_value(proto, down++), u = int_value(proto, up++);
            interlink_hub_value dv = {d.b, d.len}, uv = {u.b, u.len};
            CHECK_OK(interlink_hub_server_invoke(p->server, "down", &dv, 1, p->now));
            CHECK_OK(interlink_hub_client_send(p->client, "up", &uv, 1, NULL, 0, p->now));
            pair_pump(p);
            CHECK_OK(interlink_hub_server_handle_transport_lost(p->server));
            CHECK_OK(interlink_hub_client_handle_transport_lost(p->client));
            p->link_up = true;
            /* Sent while detached: buffered, replayed later. */
            d = int_value(proto, down++);
            dv.data = d.b;
            dv.len = d.len;
            CHECK_OK(interlink_hub_server_invoke(p->server, "down", &dv, 1, p->now));
            CHECK_OK(interlink_hub_client_handle_transport_reattached(p->client, p->now));
            CHECK_OK(interlink_hub_server_handle_transport_reattached(p->server, p->now));
            pair_pump(p);
        }
        pair_run_until(p, p->now + 2000);
        int next_down = 0, next_up = 0, in_order = 1;
        for (int i = 0; i < p->n_cev; i++)
            if (p->cev[i].kind == K(INVOCATION))
                in_order &= int_of(proto, p->cev[i].value, p->cev[i].value_len) == next_down++;
        for (int i = 0; i < p->n_sev; i++)
            if (p->sev[i].kind == K(INVOCATION))
                in_order &= int_of(proto, p->sev[i].value, p->sev[i].value_len) == next_up++;
        CHECK(in_order && next_down == down && next_up == up);
        CHECK(count(p->cev, p->n_cev, K(TRANSPORT_LOST)) == 6 && count(p->cev, p->n_cev, K(RESUMED)) == 6);
        CHECK(count(p->sev, p->n_sev, K(TRANSPORT_LOST)) == 6 && count(p->sev, p->n_sev, K(RESUMED)) == 6);
        interlink_hub_stats cs, ss;
        CHECK_OK(interlink_hub_client_stats(p->client, &cs));
        CHECK_OK(interlink_hub_server_stats(p->server, &ss));
        CHECK(cs.acks_sent > 0 && ss.acks_sent > 0 && ss.sequences_sent == 6);
        CHECK(cs.duplicates_dropped + ss.duplicates_dropped > 0);
        bool full = true;
        CHECK_OK(interlink_hub_server_is_send_buffer_full(p->server, &full));
        CHECK(!full);
        pair_free(p);
    }
}

static void test_pair_close_and_protocol_errors(void) {
    /* The server closes with an error and allows reconnecting. */
    pair *p = pair_new(JSON, false, NULL);
    take(p);
    CHECK_OK(interlink_hub_server_close(p->server, "bye", true, p->now));
    pair_pump(p);
    const rec *c = find(p->cev, p->n_cev, K(CLOSED));
    CHECK(c && c->reason == INTERLINK_HUB_CLOSE_REASON_PEER_CLOSED && c->allow_reconnect && strcmp(c->error, "bye") == 0);
    c = find(p->sev, p->n_sev, K(CLOSED));
    CHECK(c && c->reason == INTERLINK_HUB_CLOSE_REASON_LOCAL);
    pair_free(p);

    /* A call still waiting fails when the client closes. */
    p = pair_new(MSGPACK, false, NULL);
    take(p);
    CHECK_OK(interlink_hub_client_invoke(p->client, "slow", NULL, 0, NULL, 0, p->now, NULL));
    CHECK_OK(interlink_hub_client_close(p->client, p->now));
    CHECK_OK(interlink_hub_client_close(p->client, p->now));
    pair_pump(p);
    const rec *done = find(p->cev, p->n_cev, K(COMPLETION));
    CHECK(done && done->result_kind == INTERLINK_HUB_RESULT_KIND_ERROR && strlen(done->error) > 0);
    c = find(p->cev, p->n_cev, K(CLOSED));
    CHECK(c && c->reason == INTERLINK_HUB_CLOSE_REASON_LOCAL);
    CHECK(find(p->sev, p->n_sev, K(CLOSED)) && find(p->sev, p->n_sev, K(CLOSED))->reason == INTERLINK_HUB_CLOSE_REASON_PEER_CLOSED);
    pair_free(p);

    /* Bytes that are not hub messages: the server closes with .NET's error text. */
    p = pair_new(JSON, false, NULL);
    take(p);
    CHECK_OK(interlink_hub_server_handle_data(p->server, (const uint8_t *)"garbage\x1e", 8, p->now));
    pair_pump(p);
    c = find(p->sev, p->n_sev, K(CLOSED));
    CHECK(c && c->reason == INTERLINK_HUB_CLOSE_REASON_PROTOCOL_ERROR && strlen(c->error) > 0);
    c = find(p->cev, p->n_cev, K(CLOSED));
    CHECK(c && strncmp(c->error, "Connection closed with an error.", 32) == 0);
    pair_free(p);

    /* A handshake asking for a protocol the server does not offer. */
    interlink_hub_server *s = NULL;
    interlink_hub_client *cl = NULL;
    CHECK_OK(interlink_hub_server_new(NULL, INTERLINK_HUB_TRANSFER_FORMAT_BINARY, false, INTERLINK_HUB_PROTOCOLS_JSON, 0, &s));
    CHECK_OK(interlink_hub_client_new(NULL, MSGPACK, false, 0, &cl));
    interlink_hub_transmit t;
    CHECK_OK(interlink_hub_client_poll_transmit(cl, &t));
    CHECK_OK(interlink_hub_server_handle_data(s, t.data, t.len, 0));
    CHECK_OK(interlink_hub_server_poll_transmit(s, &t));
    CHECK_OK(interlink_hub_client_handle_data(cl, t.data, t.len, 0));
    interlink_hub_event e;
    CHECK_OK(interlink_hub_server_poll_event(s, &e));
    CHECK(e.kind == K(CLOSED) && e.close_reason == INTERLINK_HUB_CLOSE_REASON_HANDSHAKE_REJECTED);
    CHECK_STR(e.error, "The protocol 'messagepack' is not supported.");
    CHECK_OK(interlink_hub_client_poll_event(cl, &e));
    CHECK(e.kind == K(CLOSED) && e.close_reason == INTERLINK_HUB_CLOSE_REASON_HANDSHAKE_REJECTED);
    CHECK(e.error && strstr(e.error, "messagepack") != NULL);
    interlink_hub_negotiated n;
    CHECK_CODE(interlink_hub_server_negotiated(s, &n), INTERLINK_RESULT_WOULD_BLOCK);
    interlink_hub_server_free(s);
    interlink_hub_client_free(cl);

    /* No handshake within 15 s. */
    CHECK_OK(interlink_hub_server_new(NULL, INTERLINK_HUB_TRANSFER_FORMAT_TEXT, false, INTERLINK_HUB_PROTOCOLS_ALL, 0, &s));
    uint64_t at = 0;
    CHECK_OK(interlink_hub_server_poll_timeout(s, &at));
    CHECK(at == 15000);
    CHECK_OK(interlink_hub_server_handle_timeout(s, at));
    CHECK_OK(interlink_hub_server_poll_transmit(s, &t));
    CHECK(bytes_equal(t.data, t.len, "{\"error\":\"Handshake was canceled.\"}\x1e", 36));
    CHECK_OK(interlink_hub_server_poll_event(s, &e));
    CHECK(e.kind == K(CLOSED) && e.close_reason == INTERLINK_HUB_CLOSE_REASON_HANDSHAKE_CANCELED);
    interlink_hub_server_free(s);
}

static void test_misuse_codes(void) {
    interlink_hub_client *c = NULL;
    interlink_hub_server *s = NULL;
    /* NULL pointers name the argument. */
    CHECK_CODE(interlink_hub_client_new(NULL, JSON, false, 0, NULL), INTERLINK_RESULT_NULL_POINTER);
    CHECK(strstr(interlink_last_error_message(), "client_out") != NULL);
    CHECK_CODE(interlink_hub_client_handle_data(NULL, (const uint8_t *)"x", 1, 0), INTERLINK_RESULT_NULL_POINTER);
    CHECK_CODE(interlink_hub_server_poll_event(NULL, NULL), INTERLINK_RESULT_NULL_POINTER);
    /* Out-of-range enum values and masks. */
    CHECK_CODE(interlink_hub_client_new(NULL, 5, false, 0, &c), INTERLINK_RESULT_INVALID_ARGUMENT);
    CHECK(c == NULL);
    CHECK_CODE(interlink_hub_server_new(NULL, 1, false, 0, 0, &s), INTERLINK_RESULT_INVALID_ARGUMENT);
    CHECK_CODE(interlink_hub_server_new(NULL, 9, false, 1, 0, &s), INTERLINK_RESULT_INVALID_ARGUMENT);
    CHECK(s == NULL);
    interlink_hub_options o;
    CHECK_OK(interlink_hub_options_default(&o));
    CHECK(o.keep_alive_interval_ms == 15000 && o.timeout_ms == 30000 && o.max_message_size == 32768 &&
          !o.keep_alive_disabled);

    /* Before the handshake completed: INVALID_STATE. */
    CHECK_OK(interlink_hub_client_new(&o, JSON, false, 0, &c));
    interlink_hub_event e;
    CHECK_CODE(interlink_hub_client_poll_event(c, &e), INTERLINK_RESULT_WOULD_BLOCK);
    CHECK_CODE(interlink_hub_client_invoke(c, "x", NULL, 0, NULL, 0, 0, NULL), INTERLINK_RESULT_INVALID_STATE);
    CHECK_CODE(interlink_hub_client_invoke(c, NULL, NULL, 0, NULL, 0, 0, NULL), INTERLINK_RESULT_NULL_POINTER);
    CHECK(strstr(interlink_last_error_message(), "target") != NULL);
    CHECK_OK(interlink_hub_server_new(&o, 1, false, 3, 0, &s));
    CHECK_CODE(interlink_hub_server_invoke(s, "x", NULL, 0, 0), INTERLINK_RESULT_INVALID_STATE);
    interlink_hub_transmit t;
    CHECK_CODE(interlink_hub_server_poll_transmit(s, &t), INTERLINK_RESULT_WOULD_BLOCK);
    interlink_hub_client_free(c);
    interlink_hub_server_free(s);

    /* Open: bad values and unknown ids. */
    pair *p = pair_new(JSON, false, NULL);
    interlink_hub_value bad = {(const uint8_t *)"{oops", 5};
    CHECK_CODE(interlink_hub_client_send(p->client, "x", &bad, 1, NULL, 0, p->now), INTERLINK_RESULT_INVALID_ARGUMENT);
    CHECK(strstr(interlink_last_error_message(), "arguments[0]") != NULL);
    CHECK_CODE(interlink_hub_client_send(p->client, "x", NULL, 1, NULL, 0, p->now), INTERLINK_RESULT_NULL_POINTER);
    CHECK_CODE(interlink_hub_client_upload_item(p->client, "1", (const uint8_t *)"", 0, p->now),
               INTERLINK_RESULT_INVALID_ARGUMENT);
    CHECK_CODE(interlink_hub_client_complete_server_call(p->client, "0", 9, NULL, 0, NULL, p->now),
               INTERLINK_RESULT_INVALID_ARGUMENT);
    CHECK_CODE(interlink_hub_client_complete_server_call(p->client, "0", INTERLINK_HUB_RESULT_KIND_VOID, NULL, 0, NULL, p->now),
               INTERLINK_RESULT_NOT_FOUND);
    CHECK_CODE(interlink_hub_server_complete(p->server, "0", INTERLINK_HUB_RESULT_KIND_ERROR, NULL, 0, NULL, p->now),
               INTERLINK_RESULT_NULL_POINTER);
    CHECK_CODE(interlink_hub_server_stream_item(p->server, "7", (const uint8_t *)"1", 1, p->now), INTERLINK_RESULT_NOT_FOUND);
    CHECK_CODE(interlink_hub_server_send_encoded(p->server, (const uint8_t *)"", 0, false, p->now),
               INTERLINK_RESULT_INVALID_ARGUMENT);
    CHECK_CODE(interlink_hub_server_invoke_with_result(p->server, "x", NULL, 0, p->now, NULL),
               INTERLINK_RESULT_NULL_POINTER);

    /* After the end: CLOSED, on both sides; inputs are ignored. */
    CHECK_OK(interlink_hub_client_close(p->client, p->now));
    pair_pump(p);
    char *id = NULL;
    CHECK_CODE(interlink_hub_client_invoke(p->client, "x", NULL, 0, NULL, 0, p->now, &id), INTERLINK_RESULT_CLOSED);
    CHECK(id == NULL);
    CHECK_CODE(interlink_hub_client_cancel(p->client, "0", p->now), INTERLINK_RESULT_CLOSED);
    CHECK_CODE(interlink_hub_server_invoke(p->server, "x", NULL, 0, p->now), INTERLINK_RESULT_CLOSED);
    CHECK_CODE(interlink_hub_server_complete(p->server, "0", INTERLINK_HUB_RESULT_KIND_VOID, NULL, 0, NULL, p->now),
               INTERLINK_RESULT_CLOSED);
    CHECK_OK(interlink_hub_client_handle_data(p->client, (const uint8_t *)"{}\x1e", 3, p->now));
    CHECK_OK(interlink_hub_server_handle_transport_closed(p->server));
    CHECK_OK(interlink_hub_client_handle_transport_reattached(p->client, p->now));
    pair_pump(p);
    bool open = true;
    CHECK_OK(interlink_hub_client_is_open(p->client, &open));
    CHECK(!open);
    pair_free(p);

    /* A non-stateful connection does not survive a lost transport. */
    p = pair_new(MSGPACK, false, NULL);
    take(p);
    CHECK_OK(interlink_hub_client_handle_transport_lost(p->client));
    pair_pump(p);
    const rec *closed = find(p->cev, p->n_cev, K(CLOSED));
    CHECK(closed && closed->reason == INTERLINK_HUB_CLOSE_REASON_TRANSPORT_CLOSED);
    CHECK(count(p->cev, p->n_cev, K(TRANSPORT_LOST)) == 0);
    pair_free(p);

    interlink_hub_client_free(NULL);
    interlink_hub_server_free(NULL);
}

int main(void) {
    RUN(test_msgpack_golden_byte_by_byte);
    RUN(test_json_golden_byte_by_byte);
    RUN(test_other_message_types_round_trip);
    RUN(test_transcode);
    RUN(test_codec_errors);
    RUN(test_pair_handshake);
    RUN(test_pair_invoke_echo_round_trip);
    RUN(test_pair_stream_with_cancel);
    RUN(test_pair_upload_stream);
    RUN(test_pair_server_calls_client_with_result);
    RUN(test_pair_keep_alive_and_timeout);
    RUN(test_pair_stateful_exactly_once);
    RUN(test_pair_close_and_protocol_errors);
    RUN(test_misuse_codes);
    return check_report();
}
