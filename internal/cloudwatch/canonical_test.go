package cloudwatch

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// canonicalByJSON is Canonical as encoding/json writes it, the text
// stored series are keyed by.
func canonicalByJSON(dims []Dimension) string {
	sorted := slices.Clone(dims)
	slices.SortFunc(sorted, func(a, b Dimension) int { return strings.Compare(a.Name, b.Name) })
	if sorted == nil {
		sorted = []Dimension{}
	}
	b, _ := json.Marshal(sorted)
	return string(b)
}

func checkCanonical(t *testing.T, dims []Dimension) {
	t.Helper()
	if got, want := Canonical(dims), canonicalByJSON(dims); got != want {
		t.Errorf("Canonical(%q) = %s, encoding/json writes %s", dims, got, want)
	}
}

func TestCanonicalIsJSON(t *testing.T) {
	for _, dims := range [][]Dimension{
		nil, {}, {{"RepositoryName", "team/app"}},
		{{"b", "2"}, {"a", "1"}, {"c", ""}},
		{{"RepositoryName", `quote " back \ slash`}}, {{"n", "<&>"}}, {{"n", "ctl\x00\n"}}, {{"n", "ünï"}}, {{"n", "\xff"}},
	} {
		checkCanonical(t, dims)
	}
}

func FuzzCanonical(f *testing.F) {
	f.Add("RepositoryName", "team/app", "Other", "<v>")
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2 string) {
		checkCanonical(t, []Dimension{{n1, v1}, {n2, v2}})
		checkCanonical(t, []Dimension{{n1, v1}})
	})
}
