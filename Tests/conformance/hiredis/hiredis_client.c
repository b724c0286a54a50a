/* hiredis_client.c PORT: a scripted hiredis session printing every reply in a canonical text
 * form (one line per reply, nested arrays in brackets, binary bytes as \xNN), so the pytest can
 * run it against redis-server and larder and compare the outputs. Exits 1 on a context error.
 * Covers: binary-safe SET/GET with NUL bytes, HSET/HMGET, 1000 pipelined commands via
 * redisAppendCommand/redisGetReply, a 4 MB value whose reply spans many reads, and RESP3 via
 * HELLO 3 when this hiredis is >= 1.0 (Debian 12 ships 0.14, which only speaks RESP2). */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_bytes(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') putchar(c);
        else printf("\\x%02x", c);
    }
}

static void print_reply(const redisReply *r) {
    switch (r->type) {
    case REDIS_REPLY_STRING: printf("str(%zu):", (size_t)r->len); print_bytes(r->str, r->len); break;
    case REDIS_REPLY_STATUS: printf("status:"); print_bytes(r->str, r->len); break;
    case REDIS_REPLY_ERROR: printf("error:"); print_bytes(r->str, r->len); break;
    case REDIS_REPLY_INTEGER: printf("int:%lld", r->integer); break;
    case REDIS_REPLY_NIL: printf("nil"); break;
#if HIREDIS_MAJOR >= 1
    case REDIS_REPLY_DOUBLE: printf("double:%s", r->str); break;
    case REDIS_REPLY_BOOL: printf("bool:%lld", r->integer); break;
    case REDIS_REPLY_MAP: printf("map"); /* fall through to the elements */
    case REDIS_REPLY_SET: if (r->type == REDIS_REPLY_SET) printf("set"); /* fall through */
#endif
    case REDIS_REPLY_ARRAY:
        printf("[");
        for (size_t i = 0; i < r->elements; i++) {
            if (i) printf(", ");
            print_reply(r->element[i]);
        }
        printf("]");
        break;
    default: printf("type%d", r->type);
    }
}

static redisContext *ctx;

static void show(const char *label, redisReply *r) {
    if (r == NULL) {
        printf("%s -> context error: %s\n", label, ctx->errstr);
        exit(1);
    }
    printf("%s -> ", label);
    print_reply(r);
    printf("\n");
    freeReplyObject(r);
}

static redisReply *argv_command(int argc, const char **argv, const size_t *lens) {
    return redisCommandArgv(ctx, argc, argv, lens);
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s PORT\n", argv[0]); return 2; }
    ctx = redisConnect("127.0.0.1", atoi(argv[1]));
    if (ctx == NULL || ctx->err) { fprintf(stderr, "connect: %s\n", ctx ? ctx->errstr : "oom"); return 1; }

    /* Binary-safe values: %b takes (pointer, length), so NUL bytes travel intact. */
    const char bin[] = {'a', 0, 'b', '\r', '\n', (char)0xff, 0};
    show("SET bin", redisCommand(ctx, "SET %b %b", "k\0bin", (size_t)5, bin, sizeof bin));
    show("GET bin", redisCommand(ctx, "GET %b", "k\0bin", (size_t)5));
    show("STRLEN bin", redisCommand(ctx, "STRLEN %b", "k\0bin", (size_t)5));
    show("GET missing", redisCommand(ctx, "GET nosuchkey"));

    const char *hset[] = {"HSET", "h", "f1", "v1", "f2", "", "f\0x", "nul"};
    const size_t hlens[] = {4, 1, 2, 2, 2, 0, 3, 3};
    show("HSET", argv_command(8, hset, hlens));
    const char *hmget[] = {"HMGET", "h", "f1", "nope", "f2", "f\0x"};
    const size_t mlens[] = {5, 1, 2, 4, 2, 3};
    show("HMGET", argv_command(6, hmget, mlens));
    show("HLEN", redisCommand(ctx, "HLEN h"));
    show("HGET wrongtype", redisCommand(ctx, "GET h"));
    show("INCR", redisCommand(ctx, "INCR counter"));
    show("INCR not int", redisCommand(ctx, "INCR %b", "k\0bin", (size_t)5));
    show("unknown", redisCommand(ctx, "NOSUCHCOMMAND a"));
    show("MGET", redisCommand(ctx, "MGET h counter nosuchkey"));
    show("MULTI", redisCommand(ctx, "MULTI"));
    show("queued", redisCommand(ctx, "INCR counter"));
    show("EXEC", redisCommand(ctx, "EXEC"));

    /* 1000 pipelined commands: everything appended first, then one reply read per command. */
    for (int i = 0; i < 1000; i++) {
        switch (i % 4) {
        case 0: redisAppendCommand(ctx, "SET p:%d val-%d", i, i); break;
        case 1: redisAppendCommand(ctx, "GET p:%d", i - 1); break;
        case 2: redisAppendCommand(ctx, "HSET ph:%d f %d", i % 10, i); break;
        default: redisAppendCommand(ctx, "HMGET ph:%d f g", i % 10); break;
        }
    }
    for (int i = 0; i < 1000; i++) {
        redisReply *r = NULL;
        if (redisGetReply(ctx, (void **)&r) != REDIS_OK) show("pipeline", NULL);
        char label[32];
        snprintf(label, sizeof label, "pipe %d", i);
        show(label, r);
    }

    /* A 4 MB value: the reply arrives in many reads and hiredis must reassemble it. */
    size_t big_len = 4u << 20;
    char *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++) big[i] = (char)('a' + i % 26);
    show("SET big", redisCommand(ctx, "SET big %b", big, big_len));
    redisReply *r = redisCommand(ctx, "GET big");
    if (r == NULL) show("GET big", NULL);
    printf("GET big -> type %d, len %zu, equal %d\n", r->type, (size_t)r->len,
           r->type == REDIS_REPLY_STRING && r->len == big_len && memcmp(r->str, big, big_len) == 0);
    freeReplyObject(r);
    free(big);
    show("DBSIZE", redisCommand(ctx, "DBSIZE"));

#if HIREDIS_MAJOR >= 1
    show("HELLO 3 proto", redisCommand(ctx, "HELLO 3 SETNAME c-client"));
    show("HGETALL one-field (map)", (redisCommand(ctx, "HSET m f v"), redisCommand(ctx, "HGETALL m")));
    show("INCRBYFLOAT", redisCommand(ctx, "INCRBYFLOAT fl 1.5"));
    show("GET missing (null)", redisCommand(ctx, "GET nosuchkey"));
#else
    printf("RESP3 section skipped: hiredis %d.%d has no RESP3 support\n", HIREDIS_MAJOR, HIREDIS_MINOR);
#endif
    redisFree(ctx);
    return 0;
}
