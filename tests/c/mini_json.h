/* A minimal JSON reader for the parity scenarios (tests/scenarios/NAME.json): objects (keys in
 * order), arrays, strings with escapes (\uXXXX to UTF-8, surrogate pairs included), numbers,
 * booleans and null, into a small tree. Not a general-purpose parser: no streaming, no
 * duplicate-key policy, depth limited to 64. */
#ifndef INTERLINK_MINI_JSON_H
#define INTERLINK_MINI_JSON_H

#include <stdlib.h>
#include <string.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_value {
    json_type type;
    int boolean;
    double number;
    char *string;              /* JSON_STRING, NUL-terminated */
    size_t count;              /* JSON_ARRAY / JSON_OBJECT: number of items */
    struct json_value *items;  /* JSON_ARRAY / JSON_OBJECT */
    char **keys;               /* JSON_OBJECT: keys[i] names items[i] */
} json_value;

typedef struct {
    const char *p;
    int depth;
} json_reader;

static void json_free(json_value *v) {
    if (v->type == JSON_STRING) free(v->string);
    for (size_t i = 0; i < v->count; i++) {
        json_free(&v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    memset(v, 0, sizeof *v);
}

static void json_skip_ws(json_reader *r) {
    while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r') r->p++;
}

static int json_hex4(const char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static size_t json_utf8(unsigned cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Reads a string starting at '"' into a new buffer. */
static char *json_read_string(json_reader *r) {
    if (*r->p != '"') return NULL;
    r->p++;
    size_t cap = 16, len = 0;
    char *s = malloc(cap);
    for (;;) {
        if (len + 5 > cap) s = realloc(s, cap *= 2);
        char c = *r->p++;
        if (c == '"') break;
        if (c == '\0' || (unsigned char)c < 0x20) { free(s); return NULL; }
        if (c != '\\') { s[len++] = c; continue; }
        char e = *r->p++;
        switch (e) {
        case '"': s[len++] = '"'; break;
        case '\\': s[len++] = '\\'; break;
        case '/': s[len++] = '/'; break;
        case 'b': s[len++] = '\b'; break;
        case 'f': s[len++] = '\f'; break;
        case 'n': s[len++] = '\n'; break;
        case 'r': s[len++] = '\r'; break;
        case 't': s[len++] = '\t'; break;
        case 'u': {
            unsigned cp, lo;
            if (json_hex4(r->p, &cp)) { free(s); return NULL; }
            r->p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && r->p[0] == '\\' && r->p[1] == 'u' &&
                json_hex4(r->p + 2, &lo) == 0 && lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                r->p += 6;
            }
            len += json_utf8(cp, s + len);
            break;
        }
        default: free(s); return NULL;
        }
    }
    s[len] = '\0';
    return s;
}

static int json_read_value(json_reader *r, json_value *out);

static int json_read_container(json_reader *r, json_value *out, int object) {
    char close = object ? '}' : ']';
    out->type = object ? JSON_OBJECT : JSON_ARRAY;
    r->p++;
    json_skip_ws(r);
    if (*r->p == close) { r->p++; return 0; }
    size_t cap = 0;
    for (;;) {
        if (out->count == cap) {
            cap = cap ? cap * 2 : 4;
            out->items = realloc(out->items, cap * sizeof *out->items);
            if (object) out->keys = realloc(out->keys, cap * sizeof *out->keys);
        }
        json_skip_ws(r);
        char *key = NULL;
        if (object) {
            key = json_read_string(r);
            if (!key) return -1;
            json_skip_ws(r);
            if (*r->p++ != ':') { free(key); return -1; }
        }
        json_value *item = &out->items[out->count];
        memset(item, 0, sizeof *item);
        if (object) out->keys[out->count] = key;
        out->count++;
        if (json_read_value(r, item)) return -1;
        json_skip_ws(r);
        if (*r->p == ',') { r->p++; continue; }
        if (*r->p == close) { r->p++; return 0; }
        return -1;
    }
}

static int json_read_value(json_reader *r, json_value *out) {
    memset(out, 0, sizeof *out);
    if (++r->depth > 64) return -1;
    json_skip_ws(r);
    int rc = 0;
    char c = *r->p;
    if (c == '{' || c == '[') {
        rc = json_read_container(r, out, c == '{');
    } else if (c == '"') {
        out->type = JSON_STRING;
        out->string = json_read_string(r);
        rc = out->string ? 0 : -1;
    } else if (strncmp(r->p, "true", 4) == 0 || strncmp(r->p, "false", 5) == 0) {
        out->type = JSON_BOOL;
        out->boolean = c == 't';
        r->p += out->boolean ? 4 : 5;
    } else if (strncmp(r->p, "null", 4) == 0) {
        out->type = JSON_NULL;
        r->p += 4;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        char *end = NULL;
        out->type = JSON_NUMBER;
        out->number = strtod(r->p, &end);
        rc = end == r->p ? -1 : 0;
        r->p = end;
    } else {
        rc = -1;
    }
    r->depth--;
    return rc;
}

/* Parses `text` into `out` (free with json_free, also on failure). 0 on success. */
static int json_parse(const char *text, json_value *out) {
    json_reader r = {text, 0};
    if (json_read_value(&r, out)) return -1;
    json_skip_ws(&r);
    return *r.p == '\0' ? 0 : -1;
}

/* The member `key` of an object, or NULL. */
static const json_value *json_get(const json_value *obj, const char *key) {
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    for (size_t i = 0; i < obj->count; i++)
        if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
    return NULL;
}

static const char *json_string_or(const json_value *v, const char *fallback) {
    return v && v->type == JSON_STRING ? v->string : fallback;
}

static double json_number_or(const json_value *v, double fallback) {
    return v && v->type == JSON_NUMBER ? v->number : fallback;
}

#endif
