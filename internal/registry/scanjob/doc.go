// Package scanjob runs the registry's image scans in the background,
// never in a push. A scan is a job in the metadata store, queued by the
// registry (a push to a repository that scans on push or continuously,
// or StartImageScan) in the transaction that makes it due; a Worker
// claims jobs, runs the scanner over the image's layers and stores the
// outcome with its "ECR Image Scan" event, in one transaction.
//
// Leases. Each process claims jobs under a holder name of its own (its
// name followed by "/scans") and a lease of lease.TTL on each job, which
// it renews every quarter of that while the scan runs, so processes
// sharing a database never scan an image twice, and a process that dies
// leaves its jobs to another once their leases expire. A scan whose
// lease another process took is stopped, and its outcome is not stored
// (the transaction that stores it checks the holder). At start-up, jobs
// held under the process's own name are its previous run's, which ended
// without finishing them: they are queued again at once.
//
// Failures. A scan that fails is tried again after scanRetryDelay, then
// four times as long, and reported FAILED after maxScanAttempts; a
// server without vulnerability data fails scans at once, saying how to
// install it.
//
// Continuous scanning. When the scanner's vulnerability data changes
// (checked every Config.DataInterval), the stored package lists of
// continuously scanned images are matched again without reading their
// layers (Rematch), by one process per data version, holding the
// "scan-rematch" lease; an image whose findings changed gets a new
// event.
//
// The worker reads what it needs through narrow interfaces: Store (jobs
// and images in the metadata store), Blobs (an image's layers, decrypted
// for an encrypted repository), Rules (which repositories are scanned
// continuously) and the scanner.
package scanjob
