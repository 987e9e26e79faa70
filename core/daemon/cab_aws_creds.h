/*  =========================================================================
    cab_aws_creds - AWS credentials, region and endpoint, as the SDKs find them

    Credentials, first found wins (the SDKs' default chain, without SSO, web
    identity and credential_process):
      1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN);
      2. the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, default
         ~/.aws/credentials, section [PROFILE]) then the config file
         (AWS_CONFIG_FILE, default ~/.aws/config, section [profile PROFILE]
         or [default]), PROFILE being AWS_PROFILE or "default";
      3. container credentials: http://169.254.170.2 +
         AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, or
         AWS_CONTAINER_CREDENTIALS_FULL_URI, with the Authorization header
         from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or
         AWS_CONTAINER_AUTHORIZATION_TOKEN;
      4. EC2 instance metadata, IMDSv2 only (PUT a token, then GET the role
         and its credentials), at AWS_EC2_METADATA_SERVICE_ENDPOINT (default
         http://169.254.169.254); skipped when AWS_EC2_METADATA_DISABLED is
         "true". A token request with no answer, or an answer other than
         200, means no IMDSv2 here (not on EC2): the chain ends there.
    Temporary credentials (container, IMDS) are refreshed 5 minutes before
    they expire; if a refresh fails, the old ones are used until they expire.

    Region: AWS_REGION, AWS_DEFAULT_REGION, then `region` in the config file
    profile. Endpoint: AWS_ENDPOINT_URL_EVENTBRIDGE, AWS_ENDPOINT_URL (both
    ignored when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is "true"), then
    https://events.REGION.amazonaws.com.

    Threads: a resolver belongs to one thread (the mirror worker).
    =========================================================================
*/
#ifndef CAB_AWS_CREDS_H_INCLUDED
#define CAB_AWS_CREDS_H_INCLUDED

#include "cabruca.h"
#include <stddef.h>
#include <stdint.h>

//  Refresh temporary credentials this many seconds before they expire.
#define CAB_AWS_CREDS_REFRESH_AHEAD 300

//  A set of credentials. Strings are NUL-terminated; session_token is ""
//  for long-term keys; expiration is in seconds since the epoch, 0 when
//  the credentials do not expire; source names where they came from:
//  "environment", "shared-credentials-file", "shared-config-file",
//  "container", "imds".
typedef struct {
    char access_key_id[128];
    char secret_access_key[128];
    char session_token[4096];
    int64_t expiration;
    char source[32];
} cab_aws_credentials_t;

typedef struct _cab_aws_creds_t cab_aws_creds_t;

//  Create a credentials resolver. It reads nothing until the first
//  cab_aws_creds_get. Returns NULL on allocation failure (CAB_ERR_NOMEM).
//  Caller owns the resolver and must destroy it.
cab_aws_creds_t *
    cab_aws_creds_new (cab_error_t *error);

//  Destroy a resolver, wiping the cached secrets, and null the pointer;
//  safe on NULL.
void
    cab_aws_creds_destroy (cab_aws_creds_t **self_p);

//  Get current credentials into *credentials, resolving them through the
//  chain on the first call and again when temporary ones are within
//  CAB_AWS_CREDS_REFRESH_AHEAD seconds of `now` (seconds since the epoch;
//  0 means the current time). Errors: CAB_ERR_NOT_FOUND when no source has
//  credentials, CAB_ERR_INVALID_CONFIG for a malformed file or metadata
//  answer, CAB_ERR_IO / CAB_ERR_TIMEOUT when a metadata endpoint fails
//  (IMDS: after it gave a token).
cab_status_t
    cab_aws_creds_get (cab_aws_creds_t *self, int64_t now, cab_aws_credentials_t *credentials,
                       cab_error_t *error);

//  Forget the cached credentials so the next get resolves them again
//  (after an ExpiredTokenException, say).
void
    cab_aws_creds_invalidate (cab_aws_creds_t *self);

//  Number of times the chain was walked (first resolution and refreshes).
size_t
    cab_aws_creds_resolutions (cab_aws_creds_t *self);

//  Find the region (see above) and write it into buffer. Returns CAB_OK,
//  CAB_ERR_NOT_FOUND when none is configured (buffer is then ""), or
//  CAB_ERR_TOO_LARGE when it does not fit.
cab_status_t
    cab_aws_region (char *buffer, size_t size, cab_error_t *error);

//  Find the EventBridge endpoint URL for `region` (see above) and write it
//  into buffer, without a trailing slash. Returns CAB_OK, or
//  CAB_ERR_INVALID_ARGUMENT when there is no override and region is empty,
//  CAB_ERR_TOO_LARGE when it does not fit.
cab_status_t
    cab_aws_endpoint (const char *region, char *buffer, size_t size, cab_error_t *error);

#endif
