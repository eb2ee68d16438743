package cloudwatch

import (
	"net/url"
	"testing"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/ecrd/ecrd/internal/api/awsquery"
)

// FuzzCBORInputs feeds arbitrary bodies to the CBOR decoders: each
// answers an input or an error, never a panic.
func FuzzCBORInputs(f *testing.F) {
	f.Add(cbor.Encode(cbor.Map{"Namespace": cbor.String("AWS/ECR"), "MetricName": cbor.String("RepositoryPullCount"),
		"Dimensions": cbor.List{cbor.Map{"Name": cbor.String("RepositoryName"), "Value": cbor.String("app")}},
		"StartTime":  &cbor.Tag{ID: 1, Value: cbor.Float64(1.7e9)}, "EndTime": &cbor.Tag{ID: 1, Value: cbor.Uint(1700003600)},
		"Period": cbor.Uint(60), "Statistics": cbor.List{cbor.String("Sum")}}))
	f.Add(cbor.Encode(cbor.Map{"MetricDataQueries": cbor.List{cbor.Map{"Id": cbor.String("m"), "ReturnData": cbor.Bool(true),
		"MetricStat": cbor.Map{"Metric": cbor.Map{"Namespace": cbor.String("n")}, "Period": cbor.NegInt(5), "Stat": cbor.String("Sum")}}}}))
	f.Add([]byte{0xbf, 0x61, 0x61, 0xff})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := decodeBody(body)
		if err != nil {
			return
		}
		listInputCBOR(m)
		statisticsInputCBOR(m)
		dataInputCBOR(m)
	})
}

// FuzzQueryInputs does the same for query-protocol forms.
func FuzzQueryInputs(f *testing.F) {
	f.Add("Namespace=AWS%2FECR&MetricName=RepositoryPullCount&Dimensions.member.1.Name=RepositoryName&Dimensions.member.1.Value=app&StartTime=2026-01-01T00:00:00Z&EndTime=1767229200&Period=60&Statistics.member.1=Sum")
	f.Add("MetricDataQueries.member.1.Id=m&MetricDataQueries.member.1.MetricStat.Period=x&StartTime=bad")
	f.Add("MetricDataQueries.member.1.MetricStat.Metric.Dimensions.member.1.Value=v&MaxDatapoints=9999999999999")
	f.Fuzz(func(t *testing.T, form string) {
		v, err := url.ParseQuery(form)
		if err != nil {
			return
		}
		f := awsquery.Form{Values: v}
		statisticsInput(f)
		dataInput(f)
	})
}

func TestEpochKeepsMilliseconds(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC)
	got, err := cbor.AsTime(epoch(at))
	if err != nil || !got.Equal(at) {
		t.Fatalf("epoch(%v) reads back as %v, %v", at, got, err)
	}
}
