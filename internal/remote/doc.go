// Package remote pushes images to a registry that another ecrd
// deployment serves (or to ECR), through its public APIs only: the OCI
// distribution API (/v2) for content, the ECR API for what /v2 cannot say.
// Replication to a region named in the remote-regions setting uses it, so
// the remote authorizes every write with its own policies, exactly as for
// any other client.
//
// # Credentials and login
//
// A Target names a profile of a shared credentials file. New loads it
// with aws-sdk-go-v2's config (the profile is explicit, so environment
// credentials meant for other things, such as an S3 blob store, never
// apply). The client signs ECR's GetAuthorizationToken (ecrd serves its
// AWS APIs at POST / of the same URL) in the target's region and uses the
// token, Basic AWS:<password>, on /v2. The token is kept until shortly
// before its expiresAt, and fetched again once if the remote answers 401.
// Neither the keys nor the token are logged or put in errors.
//
// # Addressing the destination registry
//
// On ecrd's /v2 a request addresses a registry (account and region) by
// its Host when that is ECR-shaped, <account>.dkr.ecr.<region>.<domain>,
// whatever the domain; otherwise by its registry password, which names
// the account of the credentials and the region it was signed for. So:
//
//   - The credentials' own account (Account "" or equal to it): the
//     token's region is Target.Region, and requests go to the URL as
//     they are.
//   - Another account: requests still go to the URL, with the Host
//     naming the destination. When the remote's proxyEndpoint is
//     ECR-shaped (its registry-domain is set), that host with the
//     destination account; otherwise one made from the URL's host name
//     (localhost for an IP address). The client learns the credentials'
//     account from the remote's STS GetCallerIdentity, once. The remote
//     then decides as for any cross-account caller: the destination's
//     repository policy must allow the pushes (ecr:InitiateLayerUpload,
//     ecr:UploadLayerPart, ecr:CompleteLayerUpload, ecr:PutImage,
//     ecr:BatchCheckLayerAvailability, and ecr:BatchDeleteImage,
//     ecr:DescribeImages for deletes and tags), else ErrDenied with the
//     remote's explanation. A proxy in front of the remote that routes by
//     host name must pass such names on.
//   - ECR itself (a URL whose host is an amazonaws.com registry host):
//     the API goes to AWS's endpoint for the region and /v2 to the
//     registry host of the proxyEndpoint GetAuthorizationToken answers,
//     with the destination's account (ECR's token is good for every
//     registry the principal may use).
//
// # Writes
//
// Every write (/v2 POST, PUT, DELETE, and the API's BatchDeleteImage)
// carries SourceHeader with the replicating registry, so that the remote
// records it as a replication. Blobs stream from the caller's reader with
// their length and "Expect: 100-continue" (a refused login costs no
// upload), are skipped when the repository holds them, and are mounted
// when another repository of the destination does. Manifests are small
// and sent from memory. Deleting by digest uses /v2; deleting a tag uses
// BatchDeleteImage with an imageTag, which has ECR's meaning (ecrd's
// registry.BatchDeleteImage): the tag goes, and the image with it when
// it was its last tag, unless an index of the repository lists it.
//
// # Errors
//
// Failures are *Error: which remote, what was being done, the remote's
// status, code and message (or the network failure), fit for a
// replication's failureCode. errors.Is says the kind: ErrDenied,
// ErrRepositoryNotFound, ErrTagImmutable (ecrd and ECR answer an
// immutable tag on /v2 with TAG_INVALID naming immutability, on the API
// with ImageTagAlreadyExistsException), ErrNotFound, ErrReferenced.
// Temporary says whether to retry later: no answer, a timeout, 5xx, 429.
//
// The HTTP client has no overall timeout (a large blob streams as long as
// it needs; the caller's context bounds it) but bounds dialing, the TLS
// handshake and the wait for an answer, verifies TLS against the system
// roots plus the target's CA file, and follows no redirect, so that
// neither a write nor the login goes anywhere but the remote.
package remote
