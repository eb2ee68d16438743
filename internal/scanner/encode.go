package scanner

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/google/osv-scalibr/binary/proto"
	spb "github.com/google/osv-scalibr/binary/proto/scan_result_go_proto"
	"github.com/google/osv-scalibr/extractor"
	"google.golang.org/protobuf/encoding/protowire"
	gproto "google.golang.org/protobuf/proto"
)

// listV1 starts a package list: a marshalled osv-scalibr Inventory proto
// holding only packages. The byte lets the format change later.
const listV1 = 1

// inventoryPackages is the Inventory message's packages field number.
const inventoryPackages = 1

var errBadList = errors.New("scanner: malformed package list")

var deterministic = gproto.MarshalOptions{Deterministic: true}

// encodePackages encodes pkgs as a package list. Extraction-specific ids
// are dropped so that the same package always encodes the same, which lets
// Join and Match recognise duplicates by their bytes.
func encodePackages(pkgs []*extractor.Package) ([]byte, int, error) {
	raw := make([][]byte, 0, len(pkgs))
	for _, p := range pkgs {
		pp, err := proto.PackageToProto(p)
		if err != nil {
			return nil, 0, fmt.Errorf("scanner: encoding package %s: %w", p.Name, err)
		}
		pp.Id = ""
		pp.ParentIds = nil
		pp.ContainerImageMetadataIndexes = nil
		b, err := deterministic.Marshal(pp)
		if err != nil {
			return nil, 0, fmt.Errorf("scanner: encoding package %s: %w", p.Name, err)
		}
		raw = append(raw, b)
	}
	return joinRaw(raw), len(raw), nil
}

// joinRaw builds a list from encoded packages, sorted so equal sets encode
// equally.
func joinRaw(raw [][]byte) []byte {
	sort.Slice(raw, func(i, j int) bool { return bytes.Compare(raw[i], raw[j]) < 0 })
	size := 1
	for _, b := range raw {
		size += protowire.SizeTag(inventoryPackages) + protowire.SizeBytes(len(b))
	}
	out := make([]byte, 1, size)
	out[0] = listV1
	for _, b := range raw {
		out = protowire.AppendTag(out, inventoryPackages, protowire.BytesType)
		out = protowire.AppendBytes(out, b)
	}
	return out
}

// splitList returns the encoded packages of a list, without decoding them.
// Sub-slices of list: callers must not modify them.
func splitList(list []byte) ([][]byte, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("%w: empty", errBadList)
	}
	if list[0] != listV1 {
		return nil, fmt.Errorf("%w: unknown format %d", errBadList, list[0])
	}
	b := list[1:]
	var out [][]byte
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("%w: %v", errBadList, protowire.ParseError(n))
		}
		b = b[n:]
		if num != inventoryPackages || typ != protowire.BytesType {
			return nil, fmt.Errorf("%w: unexpected field %d", errBadList, num)
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil, fmt.Errorf("%w: %v", errBadList, protowire.ParseError(n))
		}
		out = append(out, v)
		b = b[n:]
	}
	return out, nil
}

// decodePackage decodes one encoded package.
func decodePackage(b []byte) (*extractor.Package, error) {
	pp := &spb.Package{}
	if err := gproto.Unmarshal(b, pp); err != nil {
		return nil, fmt.Errorf("%w: %v", errBadList, err)
	}
	p, err := proto.PackageToStruct(pp)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBadList, err)
	}
	if p == nil {
		return nil, fmt.Errorf("%w: empty package", errBadList)
	}
	return p, nil
}

// decodeList decodes all of a list's packages.
func decodeList(list []byte) ([]*extractor.Package, error) {
	raw, err := splitList(list)
	if err != nil {
		return nil, err
	}
	out := make([]*extractor.Package, 0, len(raw))
	for _, b := range raw {
		p, err := decodePackage(b)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Join returns one list holding the packages of all lists (an index's
// platforms), duplicates removed.
func Join(lists ...[]byte) ([]byte, error) {
	seen := map[string]bool{}
	var raw [][]byte
	for _, l := range lists {
		pkgs, err := splitList(l)
		if err != nil {
			return nil, err
		}
		for _, b := range pkgs {
			if seen[string(b)] {
				continue
			}
			if _, err := decodePackage(b); err != nil {
				return nil, err
			}
			seen[string(b)] = true
			raw = append(raw, bytes.Clone(b))
		}
	}
	return joinRaw(raw), nil
}

// Package is one package a scan found, as a person reads it.
type Package struct {
	Name, Version string
	// Ecosystem is OSV's name for where it comes from ("Debian:12", "Go",
	// "npm"); empty when the scanner could not tell.
	Ecosystem string
}

// Packages decodes a stored package list (ImageScan.Packages) for
// display, sorted by name, version and ecosystem.
func Packages(list []byte) ([]Package, error) {
	pkgs, err := decodeList(list)
	if err != nil {
		return nil, err
	}
	out := make([]Package, 0, len(pkgs))
	for _, p := range pkgs {
		out = append(out, Package{Name: p.Name, Version: p.Version, Ecosystem: p.Ecosystem().String()})
	}
	slices.SortFunc(out, func(a, b Package) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Version, b.Version), strings.Compare(a.Ecosystem, b.Ecosystem))
	})
	return out, nil
}
