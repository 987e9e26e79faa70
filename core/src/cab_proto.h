/*  =========================================================================
    cab_proto - the wire protocol codec (private to libcabruca and the broker)

    Encodes and decodes the messages of docs/protocol.md (protocol CAB/1).
    Every message is a ZeroMQ multipart message whose first frame is the
    signature "CAB/<version>" and whose second frame is the command name;
    the arguments follow, one per frame. A ROUTER peer sees a routing id
    frame before the signature: the broker pops it before decoding.

    Decoding never trusts the input: every frame is bounded, numbers are
    checked, and a message that does not follow the grammar gives
    CAB_ERR_PROTOCOL (or CAB_ERR_UNSUPPORTED_VERSION, CAB_ERR_TOO_LARGE) with
    as much of the message decoded as possible, so that the broker can
    answer a bad PUBLISH with a NACK that carries its tag.
    =========================================================================
*/
#ifndef CAB_PROTO_H_INCLUDED
#define CAB_PROTO_H_INCLUDED

#include "cabruca.h"
#include "cab_event.h"
#include <czmq.h>

//  The protocol version this code speaks, and its signature frame.
#define CABI_PROTO_VERSION   1
#define CABI_PROTO_SIGNATURE "CAB/1"
//  Bounds on the short text frames (bytes, without terminator).
#define CABI_PROTO_TAG_MAX   64
#define CABI_PROTO_AGENT_MAX 64
#define CABI_PROTO_ID_MAX    64
#define CABI_PROTO_QUEUE_MAX 64
//  Largest JSON body other than an event (HELLO options, WELCOME, STATUS).
#define CABI_PROTO_JSON_MAX  (64 * 1024)
//  Largest number of argument frames in a message (after the routing id,
//  the signature and the command).
#define CABI_PROTO_FRAMES_MAX 8
//  Room for a whole message: routing id, signature, command, arguments.
#define CABI_PROTO_PARTS_MAX (CABI_PROTO_FRAMES_MAX + 3)

typedef enum {
    CABI_PROTO_NONE = 0,
    CABI_PROTO_HELLO,
    CABI_PROTO_WELCOME,
    CABI_PROTO_PUBLISH,
    CABI_PROTO_ACK,
    CABI_PROTO_NACK,
    CABI_PROTO_HEARTBEAT,
    CABI_PROTO_STATUS,
    CABI_PROTO_STATUS_REPLY,
    CABI_PROTO_ERROR,
    CABI_PROTO_BYE,
    CABI_PROTO_SUBSCRIBE,           //  Consuming (docs/protocol.md, "Consuming")
    CABI_PROTO_UNSUBSCRIBE,
    CABI_PROTO_DACK,
    CABI_PROTO_DNACK,
    CABI_PROTO_SUBSCRIBED,
    CABI_PROTO_DELIVER,
    CABI_PROTO_CONTROL,             //  Control (docs/protocol.md, "Control")
    CABI_PROTO_CONTROL_REPLY,
    CABI_PROTO_COUNT_
} cabi_proto_command_t;

//  A decoded (or to-be-encoded) message. The short fields are copied and
//  terminated; body points into the frame it came from (borrowed, valid
//  while the zmsg_t lives) or, for encoding, into the caller's buffer.
typedef struct {
    cabi_proto_command_t command;
    int version;                                //  From the signature
    char tag [CABI_PROTO_TAG_MAX + 1];          //  PUBLISH, ACK, NACK
    char agent_id [CABI_PROTO_AGENT_MAX + 1];   //  HELLO
    char event_id [CABI_PROTO_ID_MAX + 1];      //  ACK
    uint64_t seq;                               //  ACK
    bool duplicate;                             //  ACK: "duplicate"
    cab_status_t code;                          //  NACK, ERROR
    char path [CAB_ERROR_PATH_MAX];             //  NACK
    char text [CAB_ERROR_TEXT_MAX];             //  NACK, ERROR, DNACK
    char queue [CABI_PROTO_QUEUE_MAX + 1];      //  (UN)SUBSCRIBE(D), DELIVER
    uint64_t delivery;                          //  DACK, DNACK, DELIVER
    int attempt;                                //  DELIVER: 1 for the first
    const char *body;                           //  PUBLISH and DELIVER event, JSON
    size_t body_size;                           //  bodies (NULL: SUBSCRIBE without)
} cabi_proto_t;

//  Return the command's name on the wire ("PUBLISH"), or "?" if unknown.
const char *
    cabi_proto_command_name (cabi_proto_command_t command);

//  Copy src (NULL: "") into buffer of capacity bytes (> 0), truncated to
//  capacity - 1 bytes and NUL-terminated: snprintf's "%s" without its
//  format parsing (several of these go into every PUBLISH and ACK).
void
    cabi_proto_copy (char *buffer, size_t capacity, const char *src);

//  Write value in decimal into number (room for 21 bytes: UINT64_MAX and
//  its NUL) and return number.
char *
    cabi_proto_decimal (char *number, uint64_t value);

//  True when text is a valid agent id: 1-64 of [A-Za-z0-9._-].
bool
    cabi_proto_agent_id_valid (const char *text);

//  True when text is a valid queue name: 1-64 of [A-Za-z0-9._-].
bool
    cabi_proto_queue_valid (const char *text);

//  One frame's bytes (borrowed).
typedef struct {
    const unsigned char *data;
    size_t size;
} cabi_proto_frame_t;

//  A message received as ZeroMQ parts, without the zmsg_t and zframe_t
//  allocations of zmsg_recv (the hot paths: PUBLISH and ACK).
typedef struct {
    zmq_msg_t parts[CABI_PROTO_PARTS_MAX];
    size_t count;  //  Parts held
    size_t total;  //  Parts the message had (more than count: the rest dropped)
} cabi_proto_parts_t;

//  Receive one whole message from socket without waiting. Returns 1 (a
//  message in *parts: close it with cabi_proto_parts_close), 0 (none
//  waiting) or -1 (errno set, nothing held). Parts past
//  CABI_PROTO_PARTS_MAX are read and dropped; total counts them, so that
//  decoding refuses the message.
int
    cabi_proto_recv (void *socket, cabi_proto_parts_t *parts);

//  Close the parts of a received message (count and total become 0).
void
    cabi_proto_parts_close (cabi_proto_parts_t *parts);

//  Decode parts[first ..] (first 1 after a routing id) as
//  cabi_proto_decode does; body and short fields as there (body borrows
//  the parts until they are closed).
cab_status_t
    cabi_proto_decode_parts (cabi_proto_parts_t *parts, size_t first, cabi_proto_t *out,
                             cab_error_t *error);

//  Decode a message (borrowed; the routing id, if any, already popped)
//  into *out. Returns CAB_OK, or CAB_ERR_UNSUPPORTED_VERSION (another
//  "CAB/n"), CAB_ERR_PROTOCOL (anything else wrong), CAB_ERR_TOO_LARGE (a
//  PUBLISH event over CAB_EVENT_MAX_SIZE) with the reason in error. On
//  error out->command and out->tag are set when they could be read.
cab_status_t
    cabi_proto_decode (zmsg_t *msg, cabi_proto_t *out, cab_error_t *error);

//  Encode a message. Returns a new zmsg_t (caller owns it) or NULL when out
//  of memory. The fields used depend on the command; see docs/protocol.md.
zmsg_t *
    cabi_proto_encode (const cabi_proto_t *msg);

//  Send a message on socket without waiting and without a zmsg_t: after a
//  routing id frame when routing is not NULL (a ROUTER), then the frames
//  cabi_proto_encode would make, each copied by ZeroMQ (short ones
//  inline, no allocation). Returns 0, or -1 with errno set (EAGAIN: the
//  peer's pipe is full; EHOSTUNREACH: no such peer on a mandatory ROUTER)
//  and nothing sent.
int
    cabi_proto_send (void *socket, const void *routing, size_t routing_size,
                     const cabi_proto_t *msg);

//  Shorthands that fill a cabi_proto_t and encode it. Each returns a new
//  zmsg_t or NULL when out of memory.
zmsg_t *
    cabi_proto_new_simple (cabi_proto_command_t command);
zmsg_t *
    cabi_proto_new_hello (const char *agent_id, const char *options_json);
zmsg_t *
    cabi_proto_new_publish (const char *tag, const char *event, size_t size);
zmsg_t *
    cabi_proto_new_ack (const char *tag, uint64_t seq, const char *event_id, bool duplicate);
zmsg_t *
    cabi_proto_new_nack (const char *tag, cab_status_t code, const char *path, const char *text);
zmsg_t *
    cabi_proto_new_error (cab_status_t code, const char *text);
zmsg_t *
    cabi_proto_new_json (cabi_proto_command_t command, const char *json);
//  SUBSCRIBE and SUBSCRIBED (options_json may be NULL for SUBSCRIBE).
zmsg_t *
    cabi_proto_new_subscribe (cabi_proto_command_t command, const char *queue,
                              const char *options_json);
zmsg_t *
    cabi_proto_new_unsubscribe (const char *queue);
//  Send PUBLISH tag event on socket (a DEALER), the event's frame being
//  the message `event` (zero copy: see cab_textbuf.h), the others copied.
//  Does not wait: returns 0, or -1 with errno set (EAGAIN: the socket
//  cannot take a message now) and nothing sent. `event` is closed (or
//  owned by ZeroMQ) either way.
int
    cabi_proto_send_publish (void *socket, const char *tag, zmq_msg_t *event);
//  DACK, or DNACK with a reason (text may be NULL: no frame).
zmsg_t *
    cabi_proto_new_dack (cabi_proto_command_t command, uint64_t delivery, const char *text);
zmsg_t *
    cabi_proto_new_deliver (uint64_t delivery, const char *queue, int attempt, const char *event,
                            size_t size);

#endif
