package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// BenchmarkEventDelivery sends a burst of custom events with PutEvents
// (ten to a call, as many calls as fit in the burst) to a rule whose
// target is an API destination served by a local webhook, and reports
// how many events a second reached it and the lag of each, from the
// PutEvents call that sent it to the webhook's receipt, at p50 and p99.
// The API destination's invocation rate limit is EventBridge's maximum,
// 300 a second, so a burst of 1,000 takes at least 3.3 s: the burst of
// 100 shows the lag without that queue.
//
//	go test ./test/e2e -run '^$' -bench BenchmarkEventDelivery -benchtime 1x -count 3
func BenchmarkEventDelivery(b *testing.B) {
	e := startECRD(b, b.TempDir())
	ctx := context.Background()
	var (
		mu       sync.Mutex
		received = map[int]time.Time{}
		got      = make(chan struct{}, 1<<16)
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Detail struct{ Seq int } `json:"detail"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		received[ev.Detail.Seq] = time.Now()
		mu.Unlock()
		got <- struct{}{}
	}))
	defer hook.Close()
	eb := eventsClient(e, static(testAccessKey, testSecret))
	conn, err := eb.CreateConnection(ctx, &eventbridge.CreateConnectionInput{Name: aws.String("hook"),
		AuthorizationType: ebtypes.ConnectionAuthorizationTypeApiKey,
		AuthParameters: &ebtypes.CreateConnectionAuthRequestParameters{ApiKeyAuthParameters: &ebtypes.CreateConnectionApiKeyAuthRequestParameters{
			ApiKeyName: aws.String("X-Api-Key"), ApiKeyValue: aws.String("k")}}})
	if err != nil {
		b.Fatal(err)
	}
	dest, err := eb.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{Name: aws.String("hook"), ConnectionArn: conn.ConnectionArn,
		InvocationEndpoint: aws.String(hook.URL), HttpMethod: ebtypes.ApiDestinationHttpMethodPost, InvocationRateLimitPerSecond: aws.Int32(300)})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("bench"), EventPattern: aws.String(`{"source":["bench.app"]}`)}); err != nil {
		b.Fatal(err)
	}
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("bench"),
		Targets: []ebtypes.Target{{Id: aws.String("hook"), Arn: dest.ApiDestinationArn}}}); err != nil {
		b.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // the delivery engine reads rules every second
	seq := 0
	burst := func(n int) (lags []time.Duration, perSecond float64) {
		sent := map[int]time.Time{}
		first := seq
		start := time.Now()
		for i := 0; i < n; i += 10 {
			var entries []ebtypes.PutEventsRequestEntry
			for j := i; j < min(i+10, n); j++ {
				entries = append(entries, ebtypes.PutEventsRequestEntry{Source: aws.String("bench.app"), DetailType: aws.String("tick"),
					Detail: aws.String(fmt.Sprintf(`{"seq":%d}`, seq))})
				seq++
			}
			at := time.Now()
			out, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
			if err != nil || out.FailedEntryCount != 0 {
				b.Fatalf("PutEvents: %v %+v", err, out)
			}
			for k := range entries {
				sent[seq-len(entries)+k] = at
			}
		}
		deadline := time.After(2 * time.Minute)
		for range n {
			select {
			case <-got:
			case <-deadline:
				b.Fatalf("not every event reached the webhook within two minutes")
			}
		}
		mu.Lock()
		defer mu.Unlock()
		var last time.Time
		for s := first; s < seq; s++ {
			lags = append(lags, received[s].Sub(sent[s]))
			if received[s].After(last) {
				last = received[s]
			}
		}
		slices.Sort(lags)
		return lags, float64(n) / last.Sub(start).Seconds()
	}
	for i := 0; i < b.N; i++ {
		lags, _ := burst(100)
		b.ReportMetric(float64(percentile(lags, 0.5).Microseconds())/1000, "burst100-p50-ms")
		b.ReportMetric(float64(percentile(lags, 0.99).Microseconds())/1000, "burst100-p99-ms")
		lags, rate := burst(1000)
		b.ReportMetric(rate, "burst1000-events/s")
		b.ReportMetric(float64(percentile(lags, 0.5).Milliseconds()), "burst1000-p50-ms")
		b.ReportMetric(float64(percentile(lags, 0.99).Milliseconds()), "burst1000-p99-ms")
	}
}
