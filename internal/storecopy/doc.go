// Package storecopy copies what an embedded data folder holds into other
// stores, for `ecrd migrate`: a team that started with the data folder
// moves to PostgreSQL and S3 and keeps its images, policies, IAM
// entities, keys, scan results and history.
//
// Blobs: every blob of the source store, and of each of its namespaces
// (the encrypted spaces of KMS keys), is copied into the same place of
// the target, streamed, never held whole. A copy is verified before it
// counts: a plaintext blob's bytes must hash to its digest as they are
// read, and a namespace's (encrypted, so not hashing to the digest they
// are stored under) must read back from the target with the same SHA-256
// as they were read from the source. A blob the target holds already,
// with the same size, is skipped, so a copy can be run again after an
// interruption and does only what is left; the target's blobs are never
// changed. The metadata is copied by the target metadata store's import
// (postgres.Store.ImportSQLite) after the blobs, so that no record names
// a blob the target lacks.
package storecopy
