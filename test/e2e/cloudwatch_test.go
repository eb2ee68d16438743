package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func cloudWatchClient(e *ecrd) *cloudwatch.Client {
	return cloudwatch.New(cloudwatch.Options{
		Region:       testRegion,
		BaseEndpoint: aws.String(e.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider(testAccessKey, testSecret, ""),
	})
}

func repoDims(name string) []cwtypes.Dimension {
	return []cwtypes.Dimension{{Name: aws.String("RepositoryName"), Value: aws.String(name)}}
}

// TestCloudWatchMetrics pulls an image, then reads RepositoryPullCount,
// CallCount and the repository's image count back through CloudWatch's
// API with aws-sdk-go-v2 (RPC v2 CBOR) and the AWS CLI (query protocol).
func TestCloudWatchMetrics(t *testing.T) {
	e := startECRD(t, t.TempDir())
	ctx := context.Background()
	auth := remote.WithAuth(&authn.Basic{Username: "AWS", Password: e.Password(t)})
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.NewTag(e.Addr+"/app:v1", name.Insecure)
	if err := remote.Write(ref, img, auth); err != nil {
		t.Fatal(err)
	}
	const pulls = 4
	for range pulls {
		if _, err := remote.Image(ref, auth); err != nil {
			t.Fatal(err)
		}
	}
	cw := cloudWatchClient(e)
	start := time.Now().Add(-time.Hour).Truncate(time.Minute)
	end := time.Now().Add(time.Hour).Truncate(time.Minute)
	// Pulls are written within ten seconds, in one batch.
	var sum float64
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		out, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
			Namespace: aws.String("AWS/ECR"), MetricName: aws.String("RepositoryPullCount"), Dimensions: repoDims("app"),
			StartTime: aws.Time(start), EndTime: aws.Time(end), Period: aws.Int32(7200), Statistics: []cwtypes.Statistic{cwtypes.StatisticSum},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Datapoints) == 1 {
			dp := out.Datapoints[0]
			sum = aws.ToFloat64(dp.Sum)
			if dp.Unit != cwtypes.StandardUnitCount || !aws.ToTime(dp.Timestamp).Equal(start) || dp.Average != nil || aws.ToString(out.Label) != "RepositoryPullCount" {
				t.Fatalf("datapoint %+v, label %q", dp, aws.ToString(out.Label))
			}
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if sum != pulls {
		t.Fatalf("RepositoryPullCount Sum = %v, want %d", sum, pulls)
	}

	// ListMetrics shows the pull count, the image count the sampler
	// recorded, and CallCount of the calls just made.
	list, err := cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Dimensions: []cwtypes.DimensionFilter{{Name: aws.String("RepositoryName")}}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range list.Metrics {
		names = append(names, aws.ToString(m.Namespace)+" "+aws.ToString(m.MetricName))
	}
	if !strings.Contains(strings.Join(names, ","), "AWS/ECR RepositoryPullCount") {
		t.Errorf("ListMetrics = %v", names)
	}

	// GetMetricData: the pull count per minute and the image count.
	data, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(start), EndTime: aws.Time(end),
		MetricDataQueries: []cwtypes.MetricDataQuery{
			{Id: aws.String("pulls"), MetricStat: &cwtypes.MetricStat{Metric: &cwtypes.Metric{Namespace: aws.String("AWS/ECR"),
				MetricName: aws.String("RepositoryPullCount"), Dimensions: repoDims("app")}, Period: aws.Int32(60), Stat: aws.String("Sum")}},
			{Id: aws.String("images"), Label: aws.String("images"), MetricStat: &cwtypes.MetricStat{Metric: &cwtypes.Metric{Namespace: aws.String("ecrd/ECR"),
				MetricName: aws.String("RepositoryImageCount"), Dimensions: repoDims("app")}, Period: aws.Int32(3600), Stat: aws.String("Maximum")}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(data.MetricDataResults) != 2 {
		t.Fatalf("GetMetricData = %+v", data.MetricDataResults)
	}
	var total float64
	for _, v := range data.MetricDataResults[0].Values {
		total += v
	}
	if r := data.MetricDataResults[0]; total != pulls || aws.ToString(r.Id) != "pulls" || r.StatusCode != cwtypes.StatusCodeComplete || len(r.Timestamps) != len(r.Values) {
		t.Errorf("pulls result = %+v (total %v)", r, total)
	}

	// Errors are CloudWatch's, with its codes.
	for _, c := range []struct {
		in   *cloudwatch.GetMetricStatisticsInput
		code string
	}{
		{&cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/ECR"), MetricName: aws.String("RepositoryPullCount"),
			StartTime: aws.Time(start), EndTime: aws.Time(end), Period: aws.Int32(61), Statistics: []cwtypes.Statistic{cwtypes.StatisticSum}}, "InvalidParameterValue"},
		{&cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/ECR"), MetricName: aws.String("RepositoryPullCount"),
			StartTime: aws.Time(start), EndTime: aws.Time(end), Period: aws.Int32(60)}, "InvalidParameterCombination"},
		{&cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/ECR"), MetricName: aws.String("RepositoryPullCount"),
			StartTime: aws.Time(start.Add(-30 * 24 * time.Hour)), EndTime: aws.Time(end), Period: aws.Int32(60), Statistics: []cwtypes.Statistic{cwtypes.StatisticSum}}, "InvalidParameterCombination"},
	} {
		_, err := cw.GetMetricStatistics(ctx, c.in)
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != c.code {
			t.Errorf("GetMetricStatistics(period %d) = %v, want %s", aws.ToInt32(c.in.Period), err, c.code)
		}
	}
	_, err = cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(start), EndTime: aws.Time(end),
		MetricDataQueries: []cwtypes.MetricDataQuery{{Id: aws.String("m1"), Expression: aws.String("SUM(METRICS())")}}})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidParameterValue" {
		t.Errorf("GetMetricData with math = %v", err)
	}
	// A stranger is refused before anything is read.
	stranger := cloudwatch.New(cloudwatch.Options{Region: testRegion, BaseEndpoint: aws.String(e.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("AKIAUNKNOWNKEY000000", "x", "")})
	if _, err := stranger.ListMetrics(ctx, &cloudwatch.ListMetricsInput{}); !errors.As(err, &ae) || ae.ErrorCode() != "InvalidClientTokenId" {
		t.Errorf("ListMetrics with an unknown key = %v", err)
	}

	// The AWS CLI v2 speaks the query protocol.
	env, _ := scriptEnv(t, e)
	cli := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(awsCLI(t), append([]string{"--endpoint-url", e.URL()}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	out := cli("cloudwatch", "get-metric-statistics", "--namespace", "AWS/ECR", "--metric-name", "RepositoryPullCount",
		"--dimensions", "Name=RepositoryName,Value=app", "--statistics", "Sum", "SampleCount",
		"--start-time", start.Format(time.RFC3339), "--end-time", end.Format(time.RFC3339), "--period", "7200")
	var stats struct {
		Label      string
		Datapoints []struct {
			Sum, SampleCount float64
			Unit             string
		}
	}
	if err := json.Unmarshal(out, &stats); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(stats.Datapoints) != 1 || stats.Datapoints[0].Sum != pulls || stats.Datapoints[0].Unit != "Count" {
		t.Fatalf("aws cloudwatch get-metric-statistics: %s", out)
	}
	out = cli("cloudwatch", "list-metrics", "--namespace", "AWS/ECR")
	if !strings.Contains(string(out), `"RepositoryPullCount"`) || !strings.Contains(string(out), `"Value": "app"`) {
		t.Errorf("aws cloudwatch list-metrics: %s", out)
	}
	out = cli("cloudwatch", "get-metric-data", "--start-time", start.Format(time.RFC3339), "--end-time", end.Format(time.RFC3339),
		"--metric-data-queries", `[{"Id":"calls","MetricStat":{"Metric":{"Namespace":"AWS/Usage","MetricName":"CallCount","Dimensions":[{"Name":"Service","Value":"CloudWatch"},{"Name":"Type","Value":"API"},{"Name":"Resource","Value":"GetMetricStatistics"},{"Name":"Class","Value":"None"}]},"Period":3600,"Stat":"Sum"}}]`)
	// The calls counted so far may not be written yet: the answer is
	// well formed either way.
	if !strings.Contains(string(out), `"Id": "calls"`) {
		t.Errorf("aws cloudwatch get-metric-data: %s", out)
	}
	cmd := exec.Command(awsCLI(t), "--endpoint-url", e.URL(), "cloudwatch", "get-metric-statistics", "--namespace", "AWS/ECR", "--metric-name", "RepositoryPullCount",
		"--statistics", "Sum", "--start-time", start.Format(time.RFC3339), "--end-time", end.Format(time.RFC3339), "--period", "90")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "InvalidParameterValue") {
		t.Errorf("a period of 90 s: %v: %s", err, out)
	}
	noServerErrors(t, e)
}

// TestCloudWatchCallCount checks that API calls are counted in AWS/Usage
// CallCount, once written.
func TestCloudWatchCallCount(t *testing.T) {
	e := startECRD(t, t.TempDir())
	ctx := context.Background()
	cw := cloudWatchClient(e)
	for range 3 {
		if _, err := cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{}); err != nil {
			t.Fatal(err)
		}
	}
	start, end := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	dims := []cwtypes.Dimension{{Name: aws.String("Service"), Value: aws.String("CloudWatch")}, {Name: aws.String("Type"), Value: aws.String("API")},
		{Name: aws.String("Resource"), Value: aws.String("ListMetrics")}, {Name: aws.String("Class"), Value: aws.String("None")}}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		out, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/Usage"), MetricName: aws.String("CallCount"),
			Dimensions: dims, StartTime: aws.Time(start), EndTime: aws.Time(end), Period: aws.Int32(7200), Statistics: []cwtypes.Statistic{cwtypes.StatisticSum}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Datapoints) == 1 {
			if got := aws.ToFloat64(out.Datapoints[0].Sum); got != 3 {
				t.Fatalf("CallCount of ListMetrics = %v, want 3", got)
			}
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatal("CallCount of ListMetrics never appeared")
}
