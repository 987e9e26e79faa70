/*  =========================================================================
    cab_proto - the wire protocol codec; the grammar is docs/protocol.md
    =========================================================================
*/
#include "cab_proto.h"
#include <errno.h>
#include <string.h>

void
cabi_proto_copy (char *buffer, size_t capacity, const char *src)
{
    size_t length = src ? strnlen (src, capacity - 1) : 0;
    memcpy (buffer, src ? src : "", length);
    buffer[length] = '\0';
}

char *
cabi_proto_decimal (char *number, uint64_t value)
{
    char digits[20];
    size_t count = 0;
    do {
        digits[count++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    for (size_t index = 0; index < count; index++)
        number[index] = digits[count - 1 - index];
    number[count] = '\0';
    return number;
}

typedef struct {
    const char *name;
    int min_args;  //  Frames after the command name
    int max_args;
} s_grammar_t;

//  Indexed by cabi_proto_command_t.
static const s_grammar_t s_grammar[CABI_PROTO_COUNT_] = {
    {"?", 0, 0},
    {"HELLO", 1, 2},
    {"WELCOME", 1, 1},
    {"PUBLISH", 2, 2},
    {"ACK", 4, 4},
    {"NACK", 5, 5},
    {"HEARTBEAT", 0, 0},
    {"STATUS", 0, 0},
    {"STATUS-REPLY", 1, 1},
    {"ERROR", 3, 3},
    {"BYE", 0, 0},
    {"SUBSCRIBE", 1, 2},
    {"UNSUBSCRIBE", 1, 1},
    {"DACK", 1, 1},
    {"DNACK", 1, 2},
    {"SUBSCRIBED", 2, 2},
    {"DELIVER", 4, 4},
    {"CONTROL", 1, 1},
    {"CONTROL-REPLY", 1, 1},
};

const char *
cabi_proto_command_name (cabi_proto_command_t command)
{
    if (command <= CABI_PROTO_NONE || command >= CABI_PROTO_COUNT_)
        return "?";
    return s_grammar[command].name;
}

static bool
s_frame_is (const cabi_proto_frame_t *frame, const char *text)
{
    size_t length = strlen (text);
    return frame->size == length && memcmp (frame->data, text, length) == 0;
}

//  True when data is 1..max bytes of printable ASCII 0x21..0x7e (charset
//  NULL) or of alphanumerics plus the bytes in charset.
static bool
s_token_valid (const unsigned char *data, size_t size, size_t max, const char *charset)
{
    if (size == 0 || size > max)
        return false;
    for (size_t index = 0; index < size; index++) {
        unsigned char byte = data[index];
        if (charset) {
            bool alnum = (byte >= '0' && byte <= '9') || (byte >= 'a' && byte <= 'z') ||
                         (byte >= 'A' && byte <= 'Z');
            if (!alnum && (byte == 0 || !strchr (charset, byte)))
                return false;
        } else if (byte < 0x21 || byte > 0x7e)
            return false;
    }
    return true;
}

//  Copy a valid token frame into buffer (capacity max + 1).
static bool
s_copy_token (const cabi_proto_frame_t *frame, char *buffer, size_t max, const char *charset)
{
    size_t size = frame->size;
    if (!s_token_valid (frame->data, size, max, charset))
        return false;
    memcpy (buffer, frame->data, size);
    buffer[size] = 0;
    return true;
}

bool
cabi_proto_agent_id_valid (const char *text)
{
    return text &&
           s_token_valid ((const unsigned char *)text, strlen (text), CABI_PROTO_AGENT_MAX, "-_.");
}

bool
cabi_proto_queue_valid (const char *text)
{
    return text &&
           s_token_valid ((const unsigned char *)text, strlen (text), CABI_PROTO_QUEUE_MAX, "-_.");
}

//  Copy a free-text frame, truncating to the buffer; NUL bytes are refused.
static bool
s_copy_text (const cabi_proto_frame_t *frame, char *buffer, size_t capacity)
{
    size_t size = frame->size;
    if (size && memchr (frame->data, 0, size))
        return false;
    if (size >= capacity)
        size = capacity - 1;
    if (size)
        memcpy (buffer, frame->data, size);
    buffer[size] = 0;
    return true;
}

//  Parse 1..digits decimal digits, no sign, into *value.
static bool
s_parse_number (const cabi_proto_frame_t *frame, size_t digits, uint64_t *value)
{
    size_t size = frame->size;
    const unsigned char *data = frame->data;
    if (size == 0 || size > digits)
        return false;
    uint64_t result = 0;
    for (size_t index = 0; index < size; index++) {
        if (data[index] < '0' || data[index] > '9')
            return false;
        unsigned digit = data[index] - '0';
        if (result > (UINT64_MAX - digit) / 10)
            return false;
        result = result * 10 + digit;
    }
    *value = result;
    return true;
}

static cab_status_t
s_bad (cab_error_t *error, cabi_proto_t *out, const char *what)
{
    return cab_error_set (error, CAB_ERR_PROTOCOL, NULL, "%s: %s",
                          cabi_proto_command_name (out->command), what);
}

static cab_status_t
s_decode_signature (const cabi_proto_frame_t *frame, cabi_proto_t *out, cab_error_t *error)
{
    size_t size = frame->size;
    const char *data = (const char *)frame->data;
    if (size < 5 || size > 8 || memcmp (data, "CAB/", 4) != 0)
        return cab_error_set (error, CAB_ERR_PROTOCOL, NULL,
                              "first frame is not a protocol signature \"CAB/<version>\"");
    int version = 0;
    for (size_t index = 4; index < size; index++) {
        if (data[index] < '0' || data[index] > '9')
            return cab_error_set (error, CAB_ERR_PROTOCOL, NULL, "malformed protocol signature");
        version = version * 10 + (data[index] - '0');
    }
    out->version = version;
    if (version != CABI_PROTO_VERSION)
        return cab_error_set (error, CAB_ERR_UNSUPPORTED_VERSION, NULL,
                              "protocol version %d is not supported; this peer speaks %s", version,
                              CABI_PROTO_SIGNATURE);
    return CAB_OK;
}

static cab_status_t
s_decode_body (const cabi_proto_frame_t *frame, cabi_proto_t *out, size_t limit, cab_error_t *error)
{
    if (frame->size > limit) {
        if (out->command == CABI_PROTO_PUBLISH)
            return cab_error_set (error, CAB_ERR_TOO_LARGE, NULL,
                                  "event of %zu bytes is over the limit of %zu bytes", frame->size,
                                  limit);
        return s_bad (error, out, "body over the size limit");
    }
    out->body = (const char *)frame->data;
    out->body_size = frame->size;
    return CAB_OK;
}

//  Decode the arguments of a command whose frame count is already checked.
static cab_status_t
s_decode_args (const cabi_proto_frame_t *args, int count, cabi_proto_t *out, cab_error_t *error)
{
    uint64_t number = 0;
    switch (out->command) {
        case CABI_PROTO_HELLO:
            if (!s_copy_token (&args[0], out->agent_id, CABI_PROTO_AGENT_MAX, "-_."))
                return s_bad (error, out, "agent id must be 1-64 of [A-Za-z0-9._-]");
            if (count == 2)
                return s_decode_body (&args[1], out, CABI_PROTO_JSON_MAX, error);
            return CAB_OK;
        case CABI_PROTO_WELCOME:
        case CABI_PROTO_STATUS_REPLY:
        case CABI_PROTO_CONTROL:
        case CABI_PROTO_CONTROL_REPLY:
            return s_decode_body (&args[0], out, CABI_PROTO_JSON_MAX, error);
        case CABI_PROTO_SUBSCRIBE:
        case CABI_PROTO_UNSUBSCRIBE:
        case CABI_PROTO_SUBSCRIBED:
            if (!s_copy_token (&args[0], out->queue, CABI_PROTO_QUEUE_MAX, "-_."))
                return s_bad (error, out, "queue must be 1-64 of [A-Za-z0-9._-]");
            if (count == 2)
                return s_decode_body (&args[1], out, CABI_PROTO_JSON_MAX, error);
            return CAB_OK;
        case CABI_PROTO_DACK:
        case CABI_PROTO_DNACK:
        case CABI_PROTO_DELIVER:
            if (!s_parse_number (&args[0], 20, &out->delivery) || out->delivery == 0)
                return s_bad (error, out, "delivery id must be a positive decimal");
            if (out->command == CABI_PROTO_DNACK && count == 2 &&
                !s_copy_text (&args[1], out->text, sizeof out->text))
                return s_bad (error, out, "malformed text");
            if (out->command != CABI_PROTO_DELIVER)
                return CAB_OK;
            if (!s_copy_token (&args[1], out->queue, CABI_PROTO_QUEUE_MAX, "-_."))
                return s_bad (error, out, "queue must be 1-64 of [A-Za-z0-9._-]");
            if (!s_parse_number (&args[2], 3, &number) || number == 0)
                return s_bad (error, out, "attempt must be a decimal from 1 to 999");
            out->attempt = (int)number;
            return s_decode_body (&args[3], out, CAB_EVENT_MAX_SIZE, error);
        case CABI_PROTO_PUBLISH:
            return s_decode_body (&args[1], out, CAB_EVENT_MAX_SIZE, error);
        case CABI_PROTO_ACK:
            if (!s_parse_number (&args[1], 20, &out->seq) || out->seq == 0)
                return s_bad (error, out, "sequence number must be a positive decimal");
            if (!s_copy_token (&args[2], out->event_id, CABI_PROTO_ID_MAX, NULL))
                return s_bad (error, out, "malformed event id");
            if (s_frame_is (&args[3], "duplicate"))
                out->duplicate = true;
            else if (!s_frame_is (&args[3], "stored"))
                return s_bad (error, out, "disposition must be \"stored\" or \"duplicate\"");
            return CAB_OK;
        case CABI_PROTO_NACK:
        case CABI_PROTO_ERROR: {
            const cabi_proto_frame_t *rest = out->command == CABI_PROTO_NACK ? args + 1 : args;
            if (!s_parse_number (&rest[0], 5, &number) || number == 0 || number > 65535)
                return s_bad (error, out, "code must be a decimal status code");
            out->code = (cab_status_t)number;
            //  rest[1] is the code's name: informative, the number rules.
            if (out->command == CABI_PROTO_NACK &&
                !s_copy_text (&rest[2], out->path, sizeof out->path))
                return s_bad (error, out, "malformed pointer");
            const cabi_proto_frame_t *text = &rest[out->command == CABI_PROTO_NACK ? 3 : 2];
            if (!s_copy_text (text, out->text, sizeof out->text))
                return s_bad (error, out, "malformed text");
            return CAB_OK;
        }
        default:
            return CAB_OK;
    }
}

//  Decode frames[0 .. held) of a message of `total` frames (held is
//  total, or CABI_PROTO_PARTS_MAX when there were more).
static cab_status_t
s_decode_frames (const cabi_proto_frame_t *frames, size_t held, size_t total, cabi_proto_t *out,
                 cab_error_t *error)
{
    memset (out, 0, sizeof *out);
    if (total < 2 || held < 2)
        return cab_error_set (error, CAB_ERR_PROTOCOL, NULL,
                              "a message needs at least a signature and a command frame");
    cab_status_t status = s_decode_signature (&frames[0], out, error);
    //  Read the command even for another version: the caller may log it.
    const cabi_proto_frame_t *command_frame = &frames[1];
    for (int command = CABI_PROTO_HELLO; command < CABI_PROTO_COUNT_; command++)
        if (s_frame_is (command_frame, s_grammar[command].name)) {
            out->command = (cabi_proto_command_t)command;
            break;
        }
    if (status != CAB_OK)
        return status;
    if (out->command == CABI_PROTO_NONE) {
        char name[33];
        if (!s_copy_token (command_frame, name, sizeof name - 1, NULL))
            return cab_error_set (error, CAB_ERR_PROTOCOL, NULL, "unknown command");
        return cab_error_set (error, CAB_ERR_PROTOCOL, NULL, "unknown command '%s'", name);
    }
    const cabi_proto_frame_t *args = frames + 2;
    if (total - 2 > CABI_PROTO_FRAMES_MAX || held < total)
        return s_bad (error, out, "too many frames");
    int count = (int)(total - 2);
    //  The tag first, so that a bad PUBLISH can still be NACKed by tag.
    bool tagged = out->command == CABI_PROTO_PUBLISH || out->command == CABI_PROTO_ACK ||
                  out->command == CABI_PROTO_NACK;
    if (tagged && count > 0 && !s_copy_token (&args[0], out->tag, CABI_PROTO_TAG_MAX, NULL))
        return s_bad (error, out, "tag must be 1-64 printable ASCII bytes");
    const s_grammar_t *grammar = &s_grammar[out->command];
    if (count < grammar->min_args || count > grammar->max_args)
        return cab_error_set (error, CAB_ERR_PROTOCOL, NULL,
                              "%s takes %d to %d argument frames, not %d", grammar->name,
                              grammar->min_args, grammar->max_args, count);
    return s_decode_args (args, count, out, error);
}

cab_status_t
cabi_proto_decode (zmsg_t *msg, cabi_proto_t *out, cab_error_t *error)
{
    cabi_proto_frame_t frames[CABI_PROTO_PARTS_MAX];
    size_t held = 0, total = msg ? zmsg_size (msg) : 0;
    for (zframe_t *frame = msg ? zmsg_first (msg) : NULL; frame && held < CABI_PROTO_PARTS_MAX;
         frame = zmsg_next (msg))
        frames[held++] = (cabi_proto_frame_t){zframe_data (frame), zframe_size (frame)};
    return s_decode_frames (frames, held, total, out, error);
}

cab_status_t
cabi_proto_decode_parts (cabi_proto_parts_t *parts, size_t first, cabi_proto_t *out,
                         cab_error_t *error)
{
    cabi_proto_frame_t frames[CABI_PROTO_PARTS_MAX];
    size_t held = 0;
    for (size_t index = first; index < parts->count; index++)
        frames[held++] = (cabi_proto_frame_t){zmq_msg_data (&parts->parts[index]),
                                              zmq_msg_size (&parts->parts[index])};
    size_t total = parts->total > first ? parts->total - first : 0;
    return s_decode_frames (frames, held, total, out, error);
}

int
cabi_proto_recv (void *socket, cabi_proto_parts_t *parts)
{
    parts->count = parts->total = 0;
    int more = 1;
    while (more) {
        zmq_msg_t scratch,
            *part = parts->count < CABI_PROTO_PARTS_MAX ? &parts->parts[parts->count] : &scratch;
        zmq_msg_init (part);
        //  The first part decides whether there is a message; the rest of
        //  a multipart message is always there once its first part is.
        if (zmq_msg_recv (part, socket, ZMQ_DONTWAIT) < 0) {
            int saved = errno;
            zmq_msg_close (part);
            if (parts->total == 0 && saved == EAGAIN)
                return 0;
            cabi_proto_parts_close (parts);
            errno = saved;
            return -1;
        }
        more = zmq_msg_more (part);
        parts->total++;
        if (part == &scratch)
            zmq_msg_close (part);  //  Past the most a message may have: dropped
        else
            parts->count++;
    }
    return 1;
}

void
cabi_proto_parts_close (cabi_proto_parts_t *parts)
{
    for (size_t index = 0; index < parts->count; index++)
        zmq_msg_close (&parts->parts[index]);
    parts->count = parts->total = 0;
}

//  The frames of a message (borrowing msg's fields and numbers, room for
//  two decimal numbers). Returns how many.
static size_t
s_encode_frames (const cabi_proto_t *in, cabi_proto_frame_t *frames, char numbers[2][24])
{
    assert (in->command > CABI_PROTO_NONE && in->command < CABI_PROTO_COUNT_);
    size_t count = 0;
#define S_TEXT(text)                                                                               \
    frames[count++] = (cabi_proto_frame_t){(const unsigned char *)(text), strlen (text)}
#define S_BODY()                                                                                   \
    frames[count++] = (cabi_proto_frame_t)                                                         \
    {                                                                                              \
        (const unsigned char *)in->body, in->body_size                                             \
    }
    S_TEXT (CABI_PROTO_SIGNATURE);
    S_TEXT (s_grammar[in->command].name);
    switch (in->command) {
        case CABI_PROTO_HELLO:
            S_TEXT (in->agent_id);
            if (in->body)
                S_BODY ();
            break;
        case CABI_PROTO_PUBLISH:
            S_TEXT (in->tag);
            S_BODY ();
            break;
        case CABI_PROTO_WELCOME:
        case CABI_PROTO_STATUS_REPLY:
        case CABI_PROTO_CONTROL:
        case CABI_PROTO_CONTROL_REPLY:
            S_BODY ();
            break;
        case CABI_PROTO_SUBSCRIBE:
        case CABI_PROTO_UNSUBSCRIBE:
        case CABI_PROTO_SUBSCRIBED:
            S_TEXT (in->queue);
            if (in->body && in->command != CABI_PROTO_UNSUBSCRIBE)
                S_BODY ();
            break;
        case CABI_PROTO_DACK:
        case CABI_PROTO_DNACK:
        case CABI_PROTO_DELIVER:
            S_TEXT (cabi_proto_decimal (numbers[0], in->delivery));
            if (in->command == CABI_PROTO_DNACK && in->text[0])
                S_TEXT (in->text);
            if (in->command == CABI_PROTO_DELIVER) {
                S_TEXT (in->queue);
                S_TEXT (
                    cabi_proto_decimal (numbers[1], (uint64_t)(in->attempt > 0 ? in->attempt : 0)));
                S_BODY ();
            }
            break;
        case CABI_PROTO_ACK:
            S_TEXT (in->tag);
            S_TEXT (cabi_proto_decimal (numbers[0], in->seq));
            S_TEXT (in->event_id);
            S_TEXT (in->duplicate ? "duplicate" : "stored");
            break;
        case CABI_PROTO_NACK:
        case CABI_PROTO_ERROR:
            if (in->command == CABI_PROTO_NACK)
                S_TEXT (in->tag);
            S_TEXT (cabi_proto_decimal (numbers[0], (uint64_t)in->code));
            S_TEXT (cab_status_name (in->code));
            if (in->command == CABI_PROTO_NACK)
                S_TEXT (in->path);
            S_TEXT (in->text);
            break;
        default:
            break;
    }
#undef S_TEXT
#undef S_BODY
    return count;
}

zmsg_t *
cabi_proto_encode (const cabi_proto_t *in)
{
    cabi_proto_frame_t frames[CABI_PROTO_PARTS_MAX];
    char numbers[2][24];
    size_t count = s_encode_frames (in, frames, numbers);
    zmsg_t *msg = zmsg_new ();
    int rc = msg ? 0 : -1;
    for (size_t index = 0; index < count && rc == 0; index++)
        rc = zmsg_addmem (msg, frames[index].data, frames[index].size);
    if (rc != 0)
        zmsg_destroy (&msg);
    return msg;
}

//  Send a routing id frame (routing not NULL), frames[0 .. count), then
//  last (not NULL: it replaces the last frame, sent without a copy and
//  closed whatever happens), without waiting. The first frame decides:
//  once it is queued, ZeroMQ takes the rest of the message whatever its
//  high-water mark. Returns 0 or -1 with errno.
static int
s_send_frames (void *socket, const void *routing, size_t routing_size,
               const cabi_proto_frame_t *frames, size_t count, zmq_msg_t *last)
{
    size_t copied = last ? count - 1 : count;
    int rc = 0;
    if (routing)
        rc = zmq_send (socket, routing, routing_size, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    for (size_t index = 0; index < copied && rc >= 0; index++)
        rc = zmq_send (socket, frames[index].data, frames[index].size,
                       (index + 1 < count ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT);
    if (last && rc >= 0)
        rc = zmq_msg_send (last, socket, ZMQ_DONTWAIT);
    if (rc < 0) {
        int saved = errno;
        if (last)
            zmq_msg_close (last);
        errno = saved;
        return -1;
    }
    return 0;
}

int
cabi_proto_send (void *socket, const void *routing, size_t routing_size, const cabi_proto_t *in)
{
    cabi_proto_frame_t frames[CABI_PROTO_PARTS_MAX];
    char numbers[2][24];
    size_t count = s_encode_frames (in, frames, numbers);
    return s_send_frames (socket, routing, routing_size, frames, count, NULL);
}

int
cabi_proto_send_publish (void *socket, const char *tag, zmq_msg_t *event)
{
    //  The frames of PUBLISH tag <empty>, the event's frame in the last place.
    cabi_proto_t msg = {.command = CABI_PROTO_PUBLISH};
    cabi_proto_copy (msg.tag, sizeof msg.tag, tag);
    cabi_proto_frame_t frames[CABI_PROTO_PARTS_MAX];
    char numbers[2][24];
    size_t count = s_encode_frames (&msg, frames, numbers);
    return s_send_frames (socket, NULL, 0, frames, count, event);
}

zmsg_t *
cabi_proto_new_simple (cabi_proto_command_t command)
{
    cabi_proto_t msg = {.command = command};
    return cabi_proto_encode (&msg);
}

zmsg_t *
cabi_proto_new_hello (const char *agent_id, const char *options_json)
{
    cabi_proto_t msg = {.command = CABI_PROTO_HELLO};
    cabi_proto_copy (msg.agent_id, sizeof msg.agent_id, agent_id);
    if (options_json) {
        msg.body = options_json;
        msg.body_size = strlen (options_json);
    }
    return cabi_proto_encode (&msg);
}

zmsg_t *
cabi_proto_new_publish (const char *tag, const char *event, size_t size)
{
    cabi_proto_t msg = {.command = CABI_PROTO_PUBLISH, .body = event, .body_size = size};
    cabi_proto_copy (msg.tag, sizeof msg.tag, tag);
    return cabi_proto_encode (&msg);
}

zmsg_t *
cabi_proto_new_ack (const char *tag, uint64_t seq, const char *event_id, bool duplicate)
{
    cabi_proto_t msg = {.command = CABI_PROTO_ACK, .seq = seq, .duplicate = duplicate};
    cabi_proto_copy (msg.tag, sizeof msg.tag, tag);
    cabi_proto_copy (msg.event_id, sizeof msg.event_id, event_id);
    return cabi_proto_encode (&msg);
}

zmsg_t *
cabi_proto_new_nack (const char *tag, cab_status_t code, const char *path, const char *text)
{
    cabi_proto_t msg = {.command = CABI_PROTO_NACK, .code = code};
    cabi_proto_copy (msg.tag, sizeof msg.tag, tag);
    cabi_proto_copy (msg.path, sizeof msg.path, path);
    cabi_proto_copy (msg.text, sizeof msg.text, text);
    return cabi_proto_encode (&msg);
}

zmsg_t *
cabi_proto_new_error (cab_status_t code, const char *text)
{
    cabi_proto_t msg = {.command = CABI_PROTO_ERROR, .code = code};
    cabi_proto_copy (msg.text, sizeof msg.text, text);
    return cabi_proto_encode (&msg);
}

zmsg_t *
cabi_proto_new_json (cabi_proto_command_t command, const char *json)
{
    cabi_proto_t msg = {.command = command, .body = json, .body_size = strlen (json)};
    return cabi_proto_encode (&msg);
}

zmsg_t *
cabi_proto_new_subscribe (cabi_proto_command_t command, const char *queue, const char *options_json)
{
    cabi_proto_t msg = {.command = command};
    cabi_proto_copy (msg.queue, sizeof msg.queue, queue);
    if (options_json) {
        msg.body = options_json;
        msg.body_size = strlen (options_json);
    }
    return cabi_proto_encode (&msg);
}

zmsg_t *
cabi_proto_new_unsubscribe (const char *queue)
{
    return cabi_proto_new_subscribe (CABI_PROTO_UNSUBSCRIBE, queue, NULL);
}

zmsg_t *
cabi_proto_new_dack (cabi_proto_command_t command, uint64_t delivery, const char *text)
{
    cabi_proto_t msg = {.command = command, .delivery = delivery};
    cabi_proto_copy (msg.text, sizeof msg.text, text);
    return cabi_proto_encode (&msg);
}

zmsg_t *
cabi_proto_new_deliver (uint64_t delivery, const char *queue, int attempt, const char *event,
                        size_t size)
{
    cabi_proto_t msg = {.command = CABI_PROTO_DELIVER,
                        .delivery = delivery,
                        .attempt = attempt,
                        .body = event,
                        .body_size = size};
    cabi_proto_copy (msg.queue, sizeof msg.queue, queue);
    return cabi_proto_encode (&msg);
}
