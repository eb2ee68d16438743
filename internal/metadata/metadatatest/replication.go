package metadatatest

import (
	"cmp"
	"errors"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ecrd/ecrd/internal/metadata"
)

var replicationTests = []storeTest{
	{"QueueReplications", testQueueReplications},
	{"ClaimReplications", testClaimReplications},
	{"FinishReplication", testFinishReplication},
	{"ReleaseReplications", testReleaseReplications},
	{"BackfillTasks", testBackfillTasks},
	{"DeleteRepositoryRemovesReplications", testDeleteRepositoryReplications},
	{"ReplicationBackfills", testReplicationBackfills},
	{"Cursors", testCursors},
}

var (
	destA = metadata.Scope{Account: "111111111111", Region: "us-west-2"}
	destB = metadata.Scope{Account: "123456789012", Region: "eu-west-1"}
)

// queued is the task a first QueueReplications at the time at makes.
func queued(repo metadata.Repository, d digest.Digest, dest metadata.Scope, at time.Time) metadata.ReplicationTask {
	return metadata.ReplicationTask{RepoID: repo.ID, Repo: repo.Key, Digest: d, Dest: dest,
		Status: metadata.ReplicationInProgress, Generation: 1, UpdatedAt: at}
}

func queue(t *testing.T, s metadata.Store, at time.Time, tasks ...metadata.ReplicationTask) {
	t.Helper()
	update(t, s, func(tx metadata.Tx) error { return tx.QueueReplications(ctx, tasks, at) })
}

func claimTasks(t *testing.T, s metadata.Store, holder string, at, until time.Time, limit int) []metadata.ReplicationTask {
	t.Helper()
	var got []metadata.ReplicationTask
	update(t, s, func(tx metadata.Tx) error {
		var err error
		got, err = tx.ClaimReplications(ctx, holder, at, until, limit)
		return err
	})
	return got
}

func finish(t *testing.T, s metadata.Store, task metadata.ReplicationTask, status, code string, attempts int, notBefore, at time.Time) bool {
	t.Helper()
	var ok bool
	update(t, s, func(tx metadata.Tx) error {
		var err error
		ok, err = tx.FinishReplication(ctx, task, status, code, attempts, notBefore, at)
		return err
	})
	return ok
}

// count runs a write that says how many rows it touched.
func count(t *testing.T, s metadata.Store, fn func(tx metadata.Tx) (int, error)) int {
	t.Helper()
	var n int
	update(t, s, func(tx metadata.Tx) error {
		var err error
		n, err = fn(tx)
		return err
	})
	return n
}

func tasksOf(t *testing.T, s metadata.Reader, repoID int64, d digest.Digest) []metadata.ReplicationTask {
	t.Helper()
	got, err := s.ReplicationTasks(ctx, repoID, d)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// oneTask returns the only task of an image.
func oneTask(t *testing.T, s metadata.Reader, repoID int64, d digest.Digest) metadata.ReplicationTask {
	t.Helper()
	got := tasksOf(t, s, repoID, d)
	if len(got) != 1 {
		t.Fatalf("tasks of %s: %+v, want one", d, got)
	}
	return got[0]
}

func sameTasks(t *testing.T, what string, got, want []metadata.ReplicationTask) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func digests(tasks []metadata.ReplicationTask) []digest.Digest {
	var out []digest.Digest
	for _, t := range tasks {
		out = append(out, t.Digest)
	}
	return out
}

func testQueueReplications(t *testing.T, s metadata.Store) {
	repo := createRepo(t, s, key("app"))
	d1, d2 := digest.FromString("one"), digest.FromString("two")
	// Tasks need no image: replicating an image that is gone deletes it
	// at the destination.
	queue(t, s, now,
		metadata.ReplicationTask{RepoID: repo.ID, Digest: d1, Dest: destB},
		metadata.ReplicationTask{RepoID: repo.ID, Digest: d1, Dest: destA},
		metadata.ReplicationTask{RepoID: repo.ID, Digest: d2, Dest: destA, NotBefore: now.Add(time.Minute), BackfillID: "bf"})
	sameTasks(t, "tasks of one image", tasksOf(t, s, repo.ID, d1),
		[]metadata.ReplicationTask{queued(repo, d1, destA, now), queued(repo, d1, destB, now)})
	want := queued(repo, d2, destA, now)
	want.NotBefore, want.BackfillID = now.Add(time.Minute), "bf"
	sameTasks(t, "a task with a wait and a backfill", tasksOf(t, s, repo.ID, d2), []metadata.ReplicationTask{want})
	sameTasks(t, "tasks of an image without any", tasksOf(t, s, repo.ID, digest.FromString("none")), nil)
	sameTasks(t, "tasks of another repository", tasksOf(t, s, repo.ID+1000, d1), nil)

	// A task finished is queued again: due, with no failure or attempts,
	// its new wait and backfill, and the next generation.
	task := claimTasks(t, s, "p1", now.Add(time.Minute), now.Add(2*time.Minute), 10)
	if len(task) != 3 {
		t.Fatalf("claimed %+v, want the three tasks", task)
	}
	for _, c := range task {
		if c.Digest == d2 && !finish(t, s, c, metadata.ReplicationFailed, "REPLICATION_FAILED", 4, now.Add(time.Hour), now.Add(time.Minute)) {
			t.Fatal("finish failed")
		}
	}
	queue(t, s, now.Add(3*time.Minute), metadata.ReplicationTask{RepoID: repo.ID, Digest: d2, Dest: destA, NotBefore: now.Add(5 * time.Minute)})
	want = queued(repo, d2, destA, now.Add(3*time.Minute))
	want.NotBefore, want.Generation = now.Add(5*time.Minute), 2
	sameTasks(t, "a failed task queued again", tasksOf(t, s, repo.ID, d2), []metadata.ReplicationTask{want})

	// A task held is queued again: its holder keeps it.
	queue(t, s, now.Add(4*time.Minute), metadata.ReplicationTask{RepoID: repo.ID, Digest: d1, Dest: destA, BackfillID: "bf2"})
	want = queued(repo, d1, destA, now.Add(4*time.Minute))
	want.Generation, want.BackfillID, want.Holder, want.LeaseUntil = 2, "bf2", "p1", now.Add(2*time.Minute)
	if got := tasksOf(t, s, repo.ID, d1); len(got) != 2 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("a held task queued again: %+v\nwant %+v", got, want)
	}

	// One call may queue a task twice: it is queued twice.
	queue(t, s, now.Add(5*time.Minute),
		metadata.ReplicationTask{RepoID: repo.ID, Digest: d2, Dest: destA},
		metadata.ReplicationTask{RepoID: repo.ID, Digest: d2, Dest: destA, BackfillID: "last"})
	if got := oneTask(t, s, repo.ID, d2); got.Generation != 4 || got.BackfillID != "last" {
		t.Fatalf("a task queued twice at once: %+v, want generation 4 and the last backfill", got)
	}

	// A task of a repository that does not exist is refused.
	err := s.Update(ctx, func(tx metadata.Tx) error {
		return tx.QueueReplications(ctx, []metadata.ReplicationTask{{RepoID: repo.ID + 1000, Digest: d1, Dest: destA}}, now)
	})
	if err == nil {
		t.Fatal("a task of a missing repository was queued")
	}
	if got := tasksOf(t, s, repo.ID+1000, d1); len(got) != 0 {
		t.Fatalf("a task of a missing repository: %+v", got)
	}
}

func testClaimReplications(t *testing.T, s metadata.Store) {
	repo := createRepo(t, s, key("app"))
	// b is of a repository created later: the oldest NotBefore comes
	// first, whatever the repository.
	later := createRepo(t, s, key("later"))
	var ds []digest.Digest
	for i, c := range []string{"a", "b", "c", "d"} {
		d := digest.FromString(c)
		ds = append(ds, d)
		id := repo.ID
		if c == "b" {
			id = later.ID
		}
		// a, b and c (at now exactly) are due, oldest first; d in a
		// minute.
		queue(t, s, now, metadata.ReplicationTask{RepoID: id, Digest: d, Dest: destA, NotBefore: now.Add(time.Duration(i-2) * time.Minute)})
	}
	until := now.Add(2 * time.Minute)
	got := claimTasks(t, s, "p1", now, until, 2)
	if !slices.Equal(digests(got), ds[:2]) {
		t.Fatalf("first claim, limit 2: %v, want %v", digests(got), ds[:2])
	}
	want := queued(repo, ds[0], destA, now)
	want.NotBefore, want.Holder, want.LeaseUntil = now.Add(-2*time.Minute), "p1", until
	if !reflect.DeepEqual(got[0], want) {
		t.Fatalf("claimed\n got %+v\nwant %+v", got[0], want)
	}
	if read := oneTask(t, s, repo.ID, ds[0]); !reflect.DeepEqual(read, want) {
		t.Fatalf("a claimed task read back\n got %+v\nwant %+v", read, want)
	}
	if got := claimTasks(t, s, "p2", now, until, 10); !slices.Equal(digests(got), ds[2:3]) {
		t.Fatalf("second claim: %v, want %v (a and b held, d waits)", digests(got), ds[2:3])
	}
	if got := claimTasks(t, s, "p3", now, until, 10); len(got) != 0 {
		t.Fatalf("third claim: %v, want none", digests(got))
	}

	if n := count(t, s, func(tx metadata.Tx) (int, error) { return tx.RenewReplications(ctx, "p1", now.Add(10*time.Minute)) }); n != 2 {
		t.Fatalf("p1 renewed %d claims, want 2", n)
	}
	if n := count(t, s, func(tx metadata.Tx) (int, error) { return tx.RenewReplications(ctx, "nobody", now.Add(time.Hour)) }); n != 0 {
		t.Fatalf("a holder of nothing renewed %d claims", n)
	}
	if got := oneTask(t, s, later.ID, ds[1]); got.Holder != "p1" || !got.LeaseUntil.Equal(now.Add(10*time.Minute)) {
		t.Fatalf("after the renewal: %+v", got)
	}

	// Two minutes on: p2's claim expires at that very time and d is due;
	// p1's claims hold.
	got = claimTasks(t, s, "p3", now.Add(2*time.Minute), now.Add(7*time.Minute), 10)
	if !slices.Equal(digests(got), ds[2:]) {
		t.Fatalf("claim after p2's claim expired: %v, want %v", digests(got), ds[2:])
	}
	for _, c := range got {
		if c.Holder != "p3" || !c.LeaseUntil.Equal(now.Add(7*time.Minute)) || c.Repo != repo.Key {
			t.Fatalf("claimed %+v", c)
		}
	}

	// a is complete: later claims pass it over; the others' claims have
	// expired.
	if !finish(t, s, metadata.ReplicationTask{RepoID: repo.ID, Digest: ds[0], Dest: destA, Holder: "p1", Generation: 1},
		metadata.ReplicationComplete, "", 1, time.Time{}, now.Add(time.Minute)) {
		t.Fatal("p1 could not finish a")
	}
	if got := claimTasks(t, s, "p4", now.Add(20*time.Minute), now.Add(22*time.Minute), 10); !slices.Equal(digests(got), ds[1:]) {
		t.Fatalf("claim after every claim expired: %v, want %v", digests(got), ds[1:])
	}
}

func testFinishReplication(t *testing.T, s metadata.Store) {
	repo := createRepo(t, s, key("app"))
	d := digest.FromString("x")
	queue(t, s, now, metadata.ReplicationTask{RepoID: repo.ID, Digest: d, Dest: destA})
	claimed := claimTasks(t, s, "p1", now, now.Add(time.Minute), 1)
	if len(claimed) != 1 || claimed[0].Generation != 1 {
		t.Fatalf("claimed %+v", claimed)
	}
	task := claimed[0]

	// Another holder's finish changes nothing.
	other := task
	other.Holder = "p2"
	if finish(t, s, other, metadata.ReplicationComplete, "", 1, time.Time{}, now) {
		t.Fatal("p2 finished p1's task")
	}
	sameTasks(t, "after another holder's finish", tasksOf(t, s, repo.ID, d), claimed)

	// The holder's finish records the outcome and ends the claim.
	if !finish(t, s, task, metadata.ReplicationFailed, "REPLICATION_FAILED", 3, now.Add(time.Hour), now.Add(time.Minute)) {
		t.Fatal("p1 could not finish its task")
	}
	want := queued(repo, d, destA, now.Add(time.Minute))
	want.Status, want.FailureCode, want.Attempts, want.NotBefore = metadata.ReplicationFailed, "REPLICATION_FAILED", 3, now.Add(time.Hour)
	sameTasks(t, "a failed task", tasksOf(t, s, repo.ID, d), []metadata.ReplicationTask{want})
	// The claim is over: a second finish changes nothing.
	if finish(t, s, task, metadata.ReplicationComplete, "", 4, time.Time{}, now.Add(2*time.Minute)) {
		t.Fatal("a task was finished twice")
	}
	sameTasks(t, "after a second finish", tasksOf(t, s, repo.ID, d), []metadata.ReplicationTask{want})
	if got := claimTasks(t, s, "p1", now.Add(2*time.Hour), now.Add(3*time.Hour), 10); len(got) != 0 {
		t.Fatalf("a failed task was claimed: %+v", got)
	}

	// Finished IN_PROGRESS, a task is retried at its NotBefore.
	queue(t, s, now.Add(2*time.Minute), metadata.ReplicationTask{RepoID: repo.ID, Digest: d, Dest: destA})
	claimed = claimTasks(t, s, "p1", now.Add(2*time.Minute), now.Add(3*time.Minute), 1)
	if len(claimed) != 1 || claimed[0].Generation != 2 {
		t.Fatalf("claimed %+v", claimed)
	}
	if !finish(t, s, claimed[0], metadata.ReplicationInProgress, "", 1, now.Add(10*time.Minute), now.Add(2*time.Minute)) {
		t.Fatal("p1 could not finish its retry")
	}
	if got := claimTasks(t, s, "p2", now.Add(9*time.Minute), now.Add(20*time.Minute), 10); len(got) != 0 {
		t.Fatalf("a retry was claimed before its time: %+v", got)
	}
	claimed = claimTasks(t, s, "p2", now.Add(10*time.Minute), now.Add(20*time.Minute), 10)
	if len(claimed) != 1 || claimed[0].Attempts != 1 || claimed[0].Generation != 2 {
		t.Fatalf("retry claimed: %+v", claimed)
	}

	// Queued again while p2 copies: p2's finish is for an older
	// generation, so the task stays due as queued.
	queue(t, s, now.Add(11*time.Minute), metadata.ReplicationTask{RepoID: repo.ID, Digest: d, Dest: destA, BackfillID: "bf"})
	want = queued(repo, d, destA, now.Add(11*time.Minute))
	want.Generation, want.BackfillID, want.Holder, want.LeaseUntil = 3, "bf", "p2", now.Add(20*time.Minute)
	sameTasks(t, "queued while held", tasksOf(t, s, repo.ID, d), []metadata.ReplicationTask{want})
	if got := claimTasks(t, s, "p3", now.Add(12*time.Minute), now.Add(20*time.Minute), 10); len(got) != 0 {
		t.Fatalf("a held task was claimed: %+v", got)
	}
	if finish(t, s, claimed[0], metadata.ReplicationComplete, "", 2, time.Time{}, now.Add(12*time.Minute)) {
		t.Fatal("a finish of an older generation reported the generation current")
	}
	want.Holder, want.LeaseUntil = "", time.Time{}
	sameTasks(t, "after a finish of an older generation", tasksOf(t, s, repo.ID, d), []metadata.ReplicationTask{want})
	claimed = claimTasks(t, s, "p3", now.Add(12*time.Minute), now.Add(20*time.Minute), 10)
	if len(claimed) != 1 || claimed[0].Generation != 3 {
		t.Fatalf("claim after a stale finish: %+v, want the task of generation 3", claimed)
	}

	// A task that is not there is left alone.
	gone := claimed[0]
	gone.Digest = digest.FromString("gone")
	if finish(t, s, gone, metadata.ReplicationComplete, "", 1, time.Time{}, now) {
		t.Fatal("a missing task was finished")
	}
	if got := tasksOf(t, s, repo.ID, gone.Digest); len(got) != 0 {
		t.Fatalf("a finish made a task: %+v", got)
	}
}

func testReleaseReplications(t *testing.T, s metadata.Store) {
	repo := createRepo(t, s, key("app"))
	holders := []string{"host-a/1", "host-a/2", "host-b/1", "host_a/1"}
	var ds []digest.Digest
	for i := range holders {
		d := digest.FromString(holders[i])
		ds = append(ds, d)
		queue(t, s, now, metadata.ReplicationTask{RepoID: repo.ID, Digest: d, Dest: destA, NotBefore: now.Add(time.Duration(i-10) * time.Second)})
	}
	for i, h := range holders {
		if got := claimTasks(t, s, h, now, now.Add(time.Hour), 1); !slices.Equal(digests(got), ds[i:i+1]) {
			t.Fatalf("%s claimed %v, want %v", h, digests(got), ds[i:i+1])
		}
	}
	// A prefix is matched as it is (% and _ are no wildcards).
	release := func(prefix string) int {
		return count(t, s, func(tx metadata.Tx) (int, error) { return tx.ReleaseReplicationsOf(ctx, prefix) })
	}
	if n := release("host%"); n != 0 {
		t.Fatalf("ReleaseReplicationsOf(host%%) released %d claims", n)
	}
	if n := release("host_a/"); n != 1 {
		t.Fatalf("ReleaseReplicationsOf(host_a/) released %d claims, want 1", n)
	}
	if n := release("host-a/"); n != 2 {
		t.Fatalf("ReleaseReplicationsOf(host-a/) released %d claims, want 2", n)
	}
	for i, h := range holders {
		got := oneTask(t, s, repo.ID, ds[i])
		released := h != "host-b/1"
		if (got.Holder == "") != released || got.LeaseUntil.IsZero() != released || got.Status != metadata.ReplicationInProgress {
			t.Errorf("the task %s held by %s after the release: %+v", ds[i], h, got)
		}
	}
	// Released tasks are due at once; the others are held.
	if got, want := claimTasks(t, s, "host-c/1", now, now.Add(time.Hour), 10), []digest.Digest{ds[0], ds[1], ds[3]}; !slices.Equal(digests(got), want) {
		t.Fatalf("claim after the release: %v, want %v", digests(got), want)
	}
	if n := count(t, s, func(tx metadata.Tx) (int, error) { return tx.RenewReplications(ctx, "host-a/1", now.Add(2*time.Hour)) }); n != 0 {
		t.Fatalf("a released holder renewed %d claims", n)
	}
}

// backfillPage lists a backfill's tasks a page of size at a time.
func backfillPages(t *testing.T, s metadata.Reader, id, status string, size int) []metadata.ReplicationTask {
	t.Helper()
	var (
		all   []metadata.ReplicationTask
		after metadata.ReplicationCursor
	)
	for range 100 {
		page, err := s.BackfillTasks(ctx, id, status, after, size)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > size {
			t.Fatalf("a page of %d tasks, limit %d", len(page), size)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		last := page[len(page)-1]
		after = metadata.ReplicationCursor{RepoID: last.RepoID, Digest: last.Digest}
	}
	t.Fatal("the listing does not end")
	return nil
}

type taskKey struct {
	repoID int64
	digest digest.Digest
}

func keys(tasks []metadata.ReplicationTask) []taskKey {
	var out []taskKey
	for _, t := range tasks {
		out = append(out, taskKey{t.RepoID, t.Digest})
	}
	return out
}

func sortKeys(ks []taskKey) []taskKey {
	ks = slices.Clone(ks)
	slices.SortFunc(ks, func(a, b taskKey) int {
		return cmp.Or(cmp.Compare(a.repoID, b.repoID), cmp.Compare(a.digest, b.digest))
	})
	return ks
}

func counts(t *testing.T, s metadata.Reader, id string) map[string]int {
	t.Helper()
	got, err := s.BackfillTaskCounts(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func sameCounts(t *testing.T, what string, got, want map[string]int) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Fatalf("%s: counts %v, want %v", what, got, want)
	}
}

func testBackfillTasks(t *testing.T, s metadata.Store) {
	a := createRepo(t, s, key("a"))
	b := createRepo(t, s, key("b"))
	d := func(c string) digest.Digest { return digest.FromString(c) }
	tk := func(repo metadata.Repository, c, backfill string) metadata.ReplicationTask {
		return metadata.ReplicationTask{RepoID: repo.ID, Digest: d(c), Dest: destA, BackfillID: backfill}
	}
	queue(t, s, now, tk(b, "1", "bf1"), tk(a, "3", "bf1"), tk(a, "1", "bf1"), tk(a, "2", "bf1"), tk(a, "4", "bf2"), tk(a, "5", ""))
	sameCounts(t, "bf1 queued", counts(t, s, "bf1"), map[string]int{metadata.ReplicationInProgress: 4})
	sameCounts(t, "a backfill without tasks", counts(t, s, "none"), map[string]int{})

	// a/1 completes, b/1 fails, a/3 waits for a retry, a/2 is being
	// copied.
	claimed := claimTasks(t, s, "w", now, now.Add(2*time.Minute), 10)
	if len(claimed) != 6 {
		t.Fatalf("claimed %d tasks, want 6", len(claimed))
	}
	for _, c := range claimed {
		switch {
		case c.RepoID == a.ID && c.Digest == d("1"):
			finish(t, s, c, metadata.ReplicationComplete, "", 1, time.Time{}, now)
		case c.RepoID == b.ID && c.Digest == d("1"):
			finish(t, s, c, metadata.ReplicationFailed, "REPLICATION_FAILED", 5, time.Time{}, now)
		case c.RepoID == a.ID && c.Digest == d("3"):
			finish(t, s, c, metadata.ReplicationInProgress, "", 1, now.Add(time.Hour), now)
		}
	}
	sameCounts(t, "bf1", counts(t, s, "bf1"), map[string]int{
		metadata.ReplicationComplete: 1, metadata.ReplicationFailed: 1, metadata.ReplicationInProgress: 2})
	sameCounts(t, "bf2", counts(t, s, "bf2"), map[string]int{metadata.ReplicationInProgress: 1})

	ka := func(c string) taskKey { return taskKey{a.ID, d(c)} }
	kb := func(c string) taskKey { return taskKey{b.ID, d(c)} }
	for _, tc := range []struct {
		status string
		want   []taskKey
	}{
		{"", []taskKey{ka("1"), ka("2"), ka("3"), kb("1")}},
		{metadata.ReplicationInProgress, []taskKey{ka("2"), ka("3")}},
		{metadata.ReplicationFailed, []taskKey{kb("1")}},
		{metadata.ReplicationComplete, []taskKey{ka("1")}},
	} {
		for _, size := range []int{1, 3, 100} {
			got := backfillPages(t, s, "bf1", tc.status, size)
			if want := sortKeys(tc.want); !slices.Equal(keys(got), want) {
				t.Fatalf("bf1's tasks with status %q, pages of %d: %v, want %v", tc.status, size, keys(got), want)
			}
			for _, task := range got {
				repo := a
				if task.RepoID == b.ID {
					repo = b
				}
				if task.Repo != repo.Key || task.BackfillID != "bf1" || task.Dest != destA {
					t.Fatalf("a listed task: %+v", task)
				}
				if task.RepoID == b.ID && (task.Status != metadata.ReplicationFailed || task.FailureCode != "REPLICATION_FAILED" || task.Attempts != 5) {
					t.Fatalf("the failed task listed as %+v", task)
				}
			}
		}
	}
	if got := backfillPages(t, s, "none", "", 10); len(got) != 0 {
		t.Fatalf("tasks of a backfill without any: %+v", got)
	}

	// Cancelling deletes the tasks that wait: not the one being copied
	// (until its claim expires), nor those done, nor other backfills'.
	if n := count(t, s, func(tx metadata.Tx) (int, error) { return tx.CancelBackfillTasks(ctx, "bf1", now) }); n != 1 {
		t.Fatalf("cancelled %d tasks, want 1 (a/3)", n)
	}
	if got := tasksOf(t, s, a.ID, d("3")); len(got) != 0 {
		t.Fatalf("a cancelled task is left: %+v", got)
	}
	sameCounts(t, "bf1 cancelled", counts(t, s, "bf1"), map[string]int{
		metadata.ReplicationComplete: 1, metadata.ReplicationFailed: 1, metadata.ReplicationInProgress: 1})
	if n := count(t, s, func(tx metadata.Tx) (int, error) { return tx.CancelBackfillTasks(ctx, "bf1", now.Add(2*time.Minute)) }); n != 1 {
		t.Fatalf("cancelled %d tasks once the claim expired, want 1 (a/2)", n)
	}
	sameCounts(t, "bf1 cancelled again", counts(t, s, "bf1"), map[string]int{
		metadata.ReplicationComplete: 1, metadata.ReplicationFailed: 1})
	for _, k := range []taskKey{ka("4"), ka("5")} {
		if got := tasksOf(t, s, k.repoID, k.digest); len(got) != 1 {
			t.Fatalf("a task of another backfill or of none was cancelled: %+v", got)
		}
	}

	// Queued again by another backfill (or by a push), a task leaves
	// bf1.
	queue(t, s, now.Add(time.Minute), tk(a, "1", "bf3"), tk(b, "1", ""))
	sameCounts(t, "bf1 after its tasks were queued again", counts(t, s, "bf1"), map[string]int{})
	if got := backfillPages(t, s, "bf3", "", 10); !slices.Equal(keys(got), []taskKey{ka("1")}) {
		t.Fatalf("bf3's tasks: %v", keys(got))
	}
}

func testDeleteRepositoryReplications(t *testing.T, s metadata.Store) {
	a := createRepo(t, s, key("a"))
	b := createRepo(t, s, key("b"))
	d := digest.FromString("x")
	for _, repo := range []metadata.Repository{a, b} {
		queue(t, s, now, metadata.ReplicationTask{RepoID: repo.ID, Digest: d, Dest: destA, BackfillID: "bf"},
			metadata.ReplicationTask{RepoID: repo.ID, Digest: d, Dest: destB, BackfillID: "bf"})
	}
	update(t, s, func(tx metadata.Tx) error { return tx.DeleteRepository(ctx, a.ID) })
	if got := tasksOf(t, s, a.ID, d); len(got) != 0 {
		t.Fatalf("tasks of a deleted repository: %+v", got)
	}
	if got := tasksOf(t, s, b.ID, d); len(got) != 2 {
		t.Fatalf("tasks of the other repository: %+v", got)
	}
	sameCounts(t, "the backfill after the deletion", counts(t, s, "bf"), map[string]int{metadata.ReplicationInProgress: 2})
	if got := claimTasks(t, s, "p", now, now.Add(time.Minute), 10); len(got) != 2 || got[0].RepoID != b.ID || got[1].RepoID != b.ID {
		t.Fatalf("claimed %+v, want b's two tasks", got)
	}
}

func testReplicationBackfills(t *testing.T, s metadata.Store) {
	other := metadata.Scope{Account: "210987654321", Region: scope.Region}
	bf := func(sc metadata.Scope, id string, started time.Duration, active bool) metadata.ReplicationBackfill {
		return metadata.ReplicationBackfill{Scope: sc, ID: id, StartedAt: now.Add(started), Active: active,
			Document: []byte(`{"id":"` + id + `"}`)}
	}
	all := []metadata.ReplicationBackfill{
		bf(scope, "bf-2", -10*time.Hour, false),
		bf(scope, "bf-1", -20*time.Hour, false),
		bf(scope, "bf-3", -1*time.Hour, true),
		bf(scope, "bf-4", -30*time.Hour, true),
		bf(other, "bf-0", -5*time.Hour, true),
		bf(other, "bf-9", -40*time.Hour, false),
	}
	update(t, s, func(tx metadata.Tx) error {
		for _, b := range all {
			if err := tx.PutReplicationBackfill(ctx, b); err != nil {
				return err
			}
		}
		return nil
	})
	got, err := s.ReplicationBackfill(ctx, scope, "bf-2")
	if err != nil || !reflect.DeepEqual(got, all[0]) {
		t.Fatalf("ReplicationBackfill = %+v, %v; want %+v", got, err, all[0])
	}
	if _, err := s.ReplicationBackfill(ctx, scope, "bf-0"); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("another registry's backfill: %v, want ErrNotFound", err)
	}
	if _, err := s.ReplicationBackfill(ctx, scope, "missing"); !errors.Is(err, metadata.ErrNotFound) {
		t.Fatalf("a missing backfill: %v, want ErrNotFound", err)
	}

	ids := func(bs []metadata.ReplicationBackfill) []string {
		var out []string
		for _, b := range bs {
			out = append(out, b.ID)
		}
		return out
	}
	list := func(sc metadata.Scope, after string, limit int) []string {
		t.Helper()
		bs, err := s.ReplicationBackfills(ctx, sc, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		return ids(bs)
	}
	if got := list(scope, "", 2); !slices.Equal(got, []string{"bf-1", "bf-2"}) {
		t.Fatalf("first page: %v", got)
	}
	if got := list(scope, "bf-2", 2); !slices.Equal(got, []string{"bf-3", "bf-4"}) {
		t.Fatalf("page after bf-2: %v", got)
	}
	if got := list(scope, "bf-4", 2); len(got) != 0 {
		t.Fatalf("page after the last: %v", got)
	}
	if got := list(other, "", 10); !slices.Equal(got, []string{"bf-0", "bf-9"}) {
		t.Fatalf("the other registry's: %v", got)
	}
	active, err := s.ActiveReplicationBackfills(ctx)
	if err != nil || !slices.Equal(ids(active), []string{"bf-4", "bf-0", "bf-3"}) {
		t.Fatalf("active backfills: %v, %v; want bf-4, bf-0, bf-3 (oldest first)", ids(active), err)
	}
	if !reflect.DeepEqual(active[1], all[4]) {
		t.Fatalf("an active backfill: %+v, want %+v", active[1], all[4])
	}

	// Replacing one: bf-4 ends with a new document.
	ended := bf(scope, "bf-4", -30*time.Hour, false)
	ended.Document = []byte(`{"status":"COMPLETE"}`)
	update(t, s, func(tx metadata.Tx) error { return tx.PutReplicationBackfill(ctx, ended) })
	if got, err := s.ReplicationBackfill(ctx, scope, "bf-4"); err != nil || !reflect.DeepEqual(got, ended) {
		t.Fatalf("replaced: %+v, %v; want %+v", got, err, ended)
	}
	if active, _ := s.ActiveReplicationBackfills(ctx); !slices.Equal(ids(active), []string{"bf-0", "bf-3"}) {
		t.Fatalf("active backfills after bf-4 ended: %v", ids(active))
	}

	// Tasks of bf-9 and bf-2 lose their backfill when it is pruned.
	repo := createRepo(t, s, key("app"))
	for _, id := range []string{"bf-9", "bf-2", "bf-3"} {
		queue(t, s, now, metadata.ReplicationTask{RepoID: repo.ID, Digest: digest.FromString(id), Dest: destA, BackfillID: id})
	}

	// Pruning: the inactive ones started more than 15 hours ago (bf-9,
	// bf-4, bf-1), the oldest first, two at a time; never an active one,
	// however old.
	prune := func(limit int) int {
		return count(t, s, func(tx metadata.Tx) (int, error) {
			return tx.PruneReplicationBackfills(ctx, now.Add(-15*time.Hour), limit)
		})
	}
	if n := prune(2); n != 2 {
		t.Fatalf("pruned %d, want 2", n)
	}
	if got := list(other, "", 10); !slices.Equal(got, []string{"bf-0"}) {
		t.Fatalf("the other registry's after pruning: %v", got)
	}
	if got := list(scope, "", 10); !slices.Equal(got, []string{"bf-1", "bf-2", "bf-3"}) {
		t.Fatalf("after pruning two: %v, want bf-4 gone (the oldest after bf-9)", got)
	}
	if n := prune(10); n != 1 {
		t.Fatalf("pruned %d, want 1", n)
	}
	if n := prune(10); n != 0 {
		t.Fatalf("pruned %d, want none", n)
	}
	if got := list(scope, "", 10); !slices.Equal(got, []string{"bf-2", "bf-3"}) {
		t.Fatalf("after pruning: %v", got)
	}
	if n := count(t, s, func(tx metadata.Tx) (int, error) { return tx.PruneReplicationBackfills(ctx, now, 10) }); n != 1 {
		t.Fatalf("pruned %d before now, want 1 (bf-2)", n)
	}
	for id, want := range map[string]string{"bf-9": "", "bf-2": "", "bf-3": "bf-3"} {
		if got := oneTask(t, s, repo.ID, digest.FromString(id)); got.BackfillID != want || got.Status != metadata.ReplicationInProgress {
			t.Errorf("the task of %s after pruning: %+v, want backfill %q", id, got, want)
		}
	}
	sameCounts(t, "a pruned backfill", counts(t, s, "bf-2"), map[string]int{})
	sameCounts(t, "a kept backfill", counts(t, s, "bf-3"), map[string]int{metadata.ReplicationInProgress: 1})
}

func testCursors(t *testing.T, s metadata.Store) {
	get := func(name string) int64 {
		t.Helper()
		v, err := s.Cursor(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := get("replication"); v != 0 {
		t.Fatalf("an unset cursor: %d, want 0", v)
	}
	update(t, s, func(tx metadata.Tx) error { return tx.SetCursor(ctx, "replication", 42) })
	if v := get("replication"); v != 42 {
		t.Fatalf("cursor = %d, want 42", v)
	}
	update(t, s, func(tx metadata.Tx) error {
		if err := tx.SetCursor(ctx, "replication", 7); err != nil {
			return err
		}
		// The transaction reads its own write.
		if v, err := tx.Cursor(ctx, "replication"); err != nil || v != 7 {
			t.Errorf("cursor inside the transaction: %d, %v; want 7", v, err)
		}
		return tx.SetCursor(ctx, "other", 1<<40)
	})
	if v, w := get("replication"), get("other"); v != 7 || w != 1<<40 {
		t.Fatalf("cursors = %d, %d; want 7, %d", v, w, int64(1)<<40)
	}
	if v := get("unset"); v != 0 {
		t.Fatalf("an unset cursor beside set ones: %d", v)
	}
}
