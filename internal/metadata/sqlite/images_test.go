package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ecrd/ecrd/internal/metadata"
)

// TestImagePageQueryPlans checks that a page of a repository's images,
// in digest order or in push order either way, with or without a
// cursor and whatever the filter, is a range scan of an index in the
// page's order: over 100,000 images, a sort or a full read would make
// every page cost the whole repository.
func TestImagePageQueryPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	yes, no := true, false
	filters := map[string]metadata.ImageFilter{
		"any":             {},
		"active":          {Status: metadata.ImageActive},
		"archived":        {Status: metadata.ImageArchived},
		"activating":      {Status: metadata.ImageActivating},
		"tagged":          {Tagged: &yes},
		"untagged-active": {Tagged: &no, Status: metadata.ImageActive},
	}
	type query struct {
		name, sql string
		args      []any
		want      []string // each must appear in the plan
	}
	var queries []query
	for fname, f := range filters {
		tags := []string{}
		if f.Tagged != nil {
			tags = []string{"COVERING INDEX tags_for_images (repo_id=? AND digest=?)"} // an EXISTS probe, or a scalar subquery for NOT EXISTS
		}
		queries = append(queries, query{"digest/" + fname, imagesSQL(f), []any{1, "", 50, 0},
			append([]string{"SEARCH i USING INDEX sqlite_autoindex_images_1 (repo_id=? AND digest>?)"}, tags...)})
		ids := f
		ids.IDsOnly = true // covering when no filter reads a column
		queries = append(queries, query{"digest-ids/" + fname, imagesSQL(ids), []any{1, "", 50, 0},
			append([]string{"INDEX sqlite_autoindex_images_1 (repo_id=? AND digest>?)"}, tags...)})
		for _, c := range []struct {
			name         string
			newest, from bool
			search       string
		}{
			{"oldest/start", false, false, "(repo_id=?)"},
			{"oldest/from", false, true, "(repo_id=? AND (pushed_at,digest)>(?,?))"},
			{"newest/start", true, false, "(repo_id=?)"},
			{"newest/from", true, true, "(repo_id=? AND (pushed_at,digest)<(?,?))"},
		} {
			queries = append(queries, query{c.name + "/" + fname, imagesByPushSQL(f, c.newest, c.from), []any{1, "d", 50, 0, 0},
				append([]string{"SEARCH i USING INDEX images_by_push_digest " + c.search}, tags...)})
		}
	}
	queries = append(queries,
		query{"tags/range", rangeTagsSQL, []any{1, "a", "b"}, []string{"SEARCH tags USING COVERING INDEX tags_for_images (repo_id=? AND digest>? AND digest<?)"}},
		query{"tags/listed", pageTagsSQL, []any{1, `["d"]`}, []string{"SEARCH tags USING COVERING INDEX tags_for_images (repo_id=? AND digest=?)", "LIST SUBQUERY"}})
	for _, q := range queries {
		t.Run(q.name, func(t *testing.T) {
			checkPlan(t, s, q.sql, q.args, q.want, jsonList)
		})
	}
}
