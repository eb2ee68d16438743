// Package cloudwatch keeps the metrics ecrd publishes as CloudWatch
// does, and answers CloudWatch's read API over them (ListMetrics,
// GetMetricStatistics, GetMetricData without metric math).
//
// What is kept: AWS/ECR RepositoryPullCount by RepositoryName (each
// image pull: a manifest GET or an image of BatchGetImage, counted where
// the registry core records pulls, through registry.Activity); AWS/Usage
// CallCount by Service, Type, Resource and Class (every API call of ECR
// and CloudWatch, from the request observer); and, under ecrd's own
// namespace ecrd/ECR, RepositoryImageCount and RepositoryStorageBytes by
// RepositoryName, sampled every minute.
//
// Storage: datapoints are statistics (sum, sample count, minimum,
// maximum) of one period of one series (metadata.Datapoint). A Recorder
// aggregates samples in memory per minute and writes them in batches;
// writes merge into the stored points, so processes sharing a database
// add up. A Maintainer, under the "cloudwatch" lease, samples repository
// usage and ages the points as CloudWatch does: one-minute points are
// kept 15 days, then rolled up into five-minute points kept 63 days,
// then into one-hour points kept 455 days.
package cloudwatch
