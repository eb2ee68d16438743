package eventpattern

import (
	"errors"
	"testing"
)

// ec2Event is the EC2 state-change event that EventBridge's documentation
// uses for its content-filtering examples.
const ec2Event = `{
  "version": "0",
  "id": "ddddd4-aaaa-7777-4444-345dd43cc333",
  "detail-type": "EC2 Instance State-change Notification",
  "source": "aws.ec2",
  "account": "012345679012",
  "time": "2017-10-02T16:24:49Z",
  "region": "us-east-1",
  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
  "detail": {
    "c-count": 5,
    "d-count": 3,
    "x-limit": 301.8,
    "source-ip": "10.0.0.33",
    "instance-id": "i-000000aaaaaa00000",
    "state": "running"
  }
}`

type matchCase struct {
	name    string
	pattern string
	event   string
	want    bool
}

var matchCases = []matchCase{
	// Exact values, nesting, lists and arrays.
	{"exact nested", `{"source":["aws.ec2"],"detail-type":["EC2 Instance State-change Notification"],"detail":{"state":["running"]}}`, ec2Event, true},
	{"exact nested miss", `{"source":["aws.ec2"],"detail":{"state":["terminated"]}}`, ec2Event, false},
	{"one of several values", `{"source":["aws.ec2","aws.fargate"]}`, ec2Event, true},
	{"field missing", `{"detail":{"zone":["a"]}}`, ec2Event, false},
	{"case sensitive", `{"source":["AWS.EC2"]}`, ec2Event, false},
	{"event array intersects", `{"resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f","x"]}`,
		`{"resources":["arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup","arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}`, true},
	{"event array disjoint", `{"resources":["a"]}`, `{"resources":["b","c"]}`, false},
	{"nested event arrays", `{"a":["x"]}`, `{"a":[["y"],["x"]]}`, true},
	{"object is not a leaf value", `{"detail":["running"]}`, ec2Event, false},
	{"number exact", `{"detail":{"c-count":[5]}}`, ec2Event, true},
	{"number exact other spelling", `{"detail":{"x-limit":[3.018e2]}}`, ec2Event, true},
	{"number is not its string", `{"detail":{"c-count":["5"]}}`, ec2Event, false},
	{"string is not a number", `{"a":[5]}`, `{"a":"5"}`, false},
	{"big number compared as written", `{"account":[123456789012]}`, `{"account":123456789012}`, true},
	{"big number other spelling", `{"account":[123456789012]}`, `{"account":1.23456789012e11}`, false},
	{"true", `{"a":[true]}`, `{"a":true}`, true},
	{"true is not the string", `{"a":[true]}`, `{"a":"true"}`, false},
	{"false", `{"a":[false]}`, `{"a":true}`, false},
	{"null", `{"detail":{"responseElements":[null]}}`, `{"detail":{"eventVersion":"","responseElements":null}}`, true},
	{"empty string", `{"detail":{"eventVersion":[""]}}`, `{"detail":{"eventVersion":"","responseElements":null}}`, true},
	{"null is not empty string", `{"detail":{"responseElements":[""]}}`, `{"detail":{"eventVersion":"","responseElements":null}}`, false},
	{"empty string is not null", `{"detail":{"eventVersion":[null]}}`, `{"detail":{"eventVersion":"","responseElements":null}}`, false},
	{"null does not match absent", `{"a":[null]}`, `{}`, false},
	{"array elements are matched whole", `{"employees":{"firstName":["Anna"],"lastName":["Smith"]}}`,
		`{"employees":[{"firstName":"John","lastName":"Doe"},{"firstName":"Anna","lastName":"Smith"}]}`, true},
	{"fields of different elements do not combine", `{"employees":{"firstName":["Anna"],"lastName":["Doe"]}}`,
		`{"employees":[{"firstName":"John","lastName":"Doe"},{"firstName":"Anna","lastName":"Smith"}]}`, false},
	{"nested arrays of objects", `{"employees":{"firstName":["Peter"]}}`,
		`{"employees":[[{"firstName":"John"}],[{"firstName":"Peter"}]]}`, true},
	{"ip exact other spelling", `{"ip":["2001:db8::1"]}`, `{"ip":"2001:DB8:0:0:0:0:0:1"}`, true},

	// prefix and suffix.
	{"prefix", `{"time":[{"prefix":"2017-10-02"}]}`, ec2Event, true},
	{"prefix miss", `{"time":[{"prefix":"2017-10-03"}]}`, ec2Event, false},
	{"prefix region", `{"source":["aws.ec2"],"region":[{"prefix":"us-"}]}`, ec2Event, true},
	{"prefix not on numbers", `{"detail":{"c-count":[{"prefix":"5"}]}}`, ec2Event, false},
	{"prefix empty matches any string", `{"a":[{"prefix":""}]}`, `{"a":""}`, true},
	{"prefix ignore case", `{"detail":{"service":[{"prefix":{"equals-ignore-case":"EventB"}}]}}`, `{"detail":{"service":"eventbridge"}}`, true},
	{"prefix ignore case upper", `{"detail":{"service":[{"prefix":{"equals-ignore-case":"EventB"}}]}}`, `{"detail":{"service":"EVENTBRIDGE"}}`, true},
	{"prefix ignore case miss", `{"detail":{"service":[{"prefix":{"equals-ignore-case":"EventB"}}]}}`, `{"detail":{"service":"Event"}}`, false},
	{"suffix", `{"FileName":[{"suffix":".png"}]}`, `{"FileName":"image.png"}`, true},
	{"suffix miss", `{"FileName":[{"suffix":".png"}]}`, `{"FileName":"image.PNG"}`, false},
	{"suffix ignore case", `{"detail":{"FileName":[{"suffix":{"equals-ignore-case":".png"}}]}}`, `{"detail":{"FileName":"image.PNG"}}`, true},
	{"suffix ignore case unicode", `{"a":[{"suffix":{"equals-ignore-case":"Straße"}}]}`, `{"a":"die STRAßE"}`, true},

	// equals-ignore-case.
	{"equals ignore case", `{"detail-type":[{"equals-ignore-case":"ec2 instance state-change notification"}]}`, ec2Event, true},
	{"equals ignore case miss", `{"detail":{"state":[{"equals-ignore-case":"runnin"}]}}`, ec2Event, false},
	{"equals ignore case not numbers", `{"a":[{"equals-ignore-case":"1"}]}`, `{"a":1}`, false},
	{"exactly", `{"a":[{"exactly":"x"}]}`, `{"a":"x"}`, true},

	// wildcard.
	{"wildcard", `{"EventBusArn":[{"wildcard":"arn:aws:events:us-east-1:*:event-bus/*"}]}`,
		`{"EventBusArn":"arn:aws:events:us-east-1:123456789012:event-bus/default"}`, true},
	{"wildcard miss", `{"EventBusArn":[{"wildcard":"arn:aws:events:us-east-1:*:event-bus/*"}]}`,
		`{"EventBusArn":"arn:aws:events:us-west-2:123456789012:event-bus/default"}`, false},
	{"wildcard dir", `{"FilePath":[{"wildcard":"*/lib/*"}]}`, `{"FilePath":"/usr/lib/x.so"}`, true},
	{"wildcard star matches empty", `{"a":[{"wildcard":"ab*"}]}`, `{"a":"ab"}`, true},
	{"wildcard parts do not overlap", `{"a":[{"wildcard":"ab*ba"}]}`, `{"a":"aba"}`, false},
	{"wildcard middle parts in order", `{"a":[{"wildcard":"*x*y*"}]}`, `{"a":"yx"}`, false},
	{"wildcard middle parts found", `{"a":[{"wildcard":"*x*y*"}]}`, `{"a":"axbyc"}`, true},
	{"wildcard no star is equality", `{"a":[{"wildcard":"abc"}]}`, `{"a":"abcd"}`, false},
	{"wildcard escaped star", `{"a":[{"wildcard":"a\\*b"}]}`, `{"a":"a*b"}`, true},
	{"wildcard escaped star literal", `{"a":[{"wildcard":"a\\*b"}]}`, `{"a":"axb"}`, false},
	{"wildcard escaped backslash", `{"a":[{"wildcard":"a\\\\*"}]}`, `{"a":"a\\bc"}`, true},
	{"wildcard not numbers", `{"a":[{"wildcard":"*"}]}`, `{"a":5}`, false},

	// anything-but.
	{"anything-but string", `{"detail":{"state":[{"anything-but":"initializing"}]}}`, ec2Event, true},
	{"anything-but string excluded", `{"detail":{"state":[{"anything-but":"running"}]}}`, ec2Event, false},
	{"anything-but number", `{"detail":{"x-limit":[{"anything-but":123}]}}`, ec2Event, true},
	{"anything-but number excluded", `{"detail":{"c-count":[{"anything-but":5.0}]}}`, ec2Event, false},
	{"anything-but list strings", `{"detail":{"state":[{"anything-but":["stopped","overloaded"]}]}}`, ec2Event, true},
	{"anything-but list strings excluded", `{"detail":{"state":[{"anything-but":["stopped","running"]}]}}`, ec2Event, false},
	{"anything-but list numbers", `{"detail":{"x-limit":[{"anything-but":[100,200,300]}]}}`, ec2Event, true},
	{"anything-but list numbers excluded", `{"detail":{"d-count":[{"anything-but":[1,2,3]}]}}`, ec2Event, false},
	{"anything-but array has another value", `{"price":[{"anything-but":[100,500]}]}`, `{"price":[100,50]}`, true},
	{"anything-but array all excluded", `{"price":[{"anything-but":[100,500]}]}`, `{"price":[100,500]}`, false},
	{"anything-but string matches number", `{"a":[{"anything-but":"x"}]}`, `{"a":1}`, true},
	{"anything-but number matches string", `{"a":[{"anything-but":1}]}`, `{"a":"1"}`, true},
	{"anything-but not absent", `{"a":[{"anything-but":"x"}]}`, `{}`, false},
	{"anything-but prefix", `{"detail":{"state":[{"anything-but":{"prefix":"init"}}]}}`, ec2Event, true},
	{"anything-but prefix excluded", `{"detail":{"state":[{"anything-but":{"prefix":"run"}}]}}`, ec2Event, false},
	{"anything-but prefix list", `{"detail":{"state":[{"anything-but":{"prefix":["init","error"]}}]}}`, `{"detail":{"state":"error: disk"}}`, false},
	{"anything-but suffix", `{"FileName":[{"anything-but":{"suffix":".png"}}]}`, `{"FileName":"a.jpg"}`, true},
	{"anything-but suffix excluded", `{"FileName":[{"anything-but":{"suffix":".png"}}]}`, `{"FileName":"a.png"}`, false},
	{"anything-but suffix list", `{"detail":{"instance-id":[{"anything-but":{"suffix":["1234","6789"]}}]}}`, `{"detail":{"instance-id":"i-6789"}}`, false},
	{"anything-but ignore case", `{"detail":{"state":[{"anything-but":{"equals-ignore-case":"initializing"}}]}}`, `{"detail":{"state":"INITIALIZING"}}`, false},
	{"anything-but ignore case other", `{"detail":{"state":[{"anything-but":{"equals-ignore-case":["Stopped","OverLoaded"]}}]}}`, ec2Event, true},
	{"anything-but wildcard", `{"FilePath":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, `{"FilePath":"/usr/bin/x"}`, true},
	{"anything-but wildcard excluded", `{"FilePath":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, `{"FilePath":"/usr/lib/x"}`, false},
	{"anything-but wildcard list", `{"a":[{"anything-but":{"wildcard":["*/bin/*.jar","*/bin/*.class"]}}]}`, `{"a":"/opt/bin/x.class"}`, false},

	// numeric.
	{"numeric range", `{"detail":{"c-count":[{"numeric":[">",0,"<=",5]}],"d-count":[{"numeric":["<",10]}],"x-limit":[{"numeric":["=",3.018e2]}]}}`, ec2Event, true},
	{"numeric open top", `{"detail":{"c-count":[{"numeric":[">",0,"<",5]}]}}`, ec2Event, false},
	{"numeric closed bottom", `{"detail":{"c-count":[{"numeric":[">=",5,"<",6]}]}}`, ec2Event, true},
	{"numeric open bottom", `{"detail":{"c-count":[{"numeric":[">",5]}]}}`, ec2Event, false},
	{"numeric le", `{"detail":{"c-count":[{"numeric":["<=",5]}]}}`, ec2Event, true},
	{"numeric eq", `{"a":[{"numeric":["=",301.5]}]}`, `{"a":3.015e2}`, true},
	{"numeric only numbers", `{"a":[{"numeric":[">",0]}]}`, `{"a":"5"}`, false},
	{"numeric negative", `{"a":[{"numeric":["<",-1.5]}]}`, `{"a":-2}`, true},
	{"numeric decimals", `{"a":[{"numeric":[">",0]}]}`, `{"a":0.000001}`, true},
	{"numeric at the range's end", `{"a":[{"numeric":[">=",5e9]}]}`, `{"a":5000000000}`, true},
	{"numeric beyond the range", `{"a":[{"numeric":[">",0]}]}`, `{"a":5000000001}`, false},
	{"numeric array", `{"a":[{"numeric":[">",10]}]}`, `{"a":[1,2,30]}`, true},

	// cidr.
	{"cidr v4", `{"detail":{"source-ip":[{"cidr":"10.0.0.0/24"}]}}`, ec2Event, true},
	{"cidr v4 miss", `{"detail":{"source-ip":[{"cidr":"10.0.1.0/24"}]}}`, ec2Event, false},
	{"cidr v4 unmasked base", `{"a":[{"cidr":"10.0.0.77/24"}]}`, `{"a":"10.0.0.1"}`, true},
	{"cidr v6", `{"sourceIPAddress":[{"cidr":"2001:db8::/64"}]}`, `{"sourceIPAddress":"2001:db8::abcd"}`, true},
	{"cidr v6 miss", `{"sourceIPAddress":[{"cidr":"2001:db8::/64"}]}`, `{"sourceIPAddress":"2001:db9::1"}`, false},
	{"cidr v4 pattern v6 value", `{"a":[{"cidr":"10.0.0.0/8"}]}`, `{"a":"::1"}`, false},
	{"cidr not ip", `{"a":[{"cidr":"10.0.0.0/8"}]}`, `{"a":"10.0.0.x"}`, false},
	{"cidr zone is not an address", `{"a":[{"cidr":"fe80::/16"}]}`, `{"a":"fe80::1%eth0"}`, false},

	// exists.
	{"exists true", `{"detail":{"state":[{"exists":true}]}}`, ec2Event, true},
	{"exists true absent", `{"detail":{"zone":[{"exists":true}]}}`, ec2Event, false},
	{"exists false absent", `{"detail":{"zone":[{"exists":false}]}}`, ec2Event, true},
	{"exists false present", `{"detail":{"state":[{"exists":false}]}}`, ec2Event, false},
	{"exists false parent absent", `{"other":{"zone":[{"exists":false}]}}`, ec2Event, true},
	{"exists true null", `{"a":[{"exists":true}]}`, `{"a":null}`, true},
	{"exists false null", `{"a":[{"exists":false}]}`, `{"a":null}`, false},
	{"exists on an object is false", `{"detail":{"c-count":[{"exists":false}]}}`, `{"detail":{"c-count":{"c1":100}}}`, true},
	{"exists true on an object", `{"detail":[{"exists":true}]}`, ec2Event, false},
	{"exists empty array", `{"a":[{"exists":false}]}`, `{"a":[]}`, true},
	{"exists true empty array", `{"a":[{"exists":true}]}`, `{"a":[]}`, false},
	{"exists false in the element that matches", `{"employees":{"firstName":["Anna"],"ids":[{"exists":false}]}}`,
		`{"employees":[{"firstName":"John","ids":[1000]},{"firstName":"Anna"}]}`, true},
	{"exists true in another element", `{"employees":{"firstName":["Anna"],"ids":[{"exists":true}]}}`,
		`{"employees":[{"firstName":"John","ids":[1000]},{"firstName":"Anna"}]}`, false},
	{"exists false under an empty array", `{"a":{"b":[{"exists":false}]}}`, `{"a":[]}`, true},
	{"exists false or value", `{"a":[{"exists":false},"x"]}`, `{"a":"x"}`, true},

	// $or.
	{"or first", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization","ReadLatency"]},{"namespace":["AWS/EC2","AWS/ES"]}]}`,
		`{"source":"aws.cloudwatch","metricName":"ReadLatency"}`, true},
	{"or second", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization","ReadLatency"]},{"namespace":["AWS/EC2","AWS/ES"]}]}`,
		`{"source":"aws.cloudwatch","namespace":"AWS/ES"}`, true},
	{"or none", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"namespace":["AWS/EC2"]}]}`,
		`{"source":"aws.cloudwatch","namespace":"AWS/S3"}`, false},
	{"or and the rest", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"namespace":["AWS/EC2"]}]}`,
		`{"source":"aws.ec2","namespace":"AWS/EC2"}`, false},
	{"parallel or", `{"$or":[{"metricName":["CPUUtilization"]},{"namespace":["AWS/EC2"]}],"detail":{"$or":[{"source":["aws.cloudwatch"]},{"detail-type":["CloudWatch Alarm State Change"]}]}}`,
		`{"namespace":"AWS/EC2","detail":{"detail-type":"CloudWatch Alarm State Change"}}`, true},
	{"parallel or one side", `{"$or":[{"metricName":["CPUUtilization"]},{"namespace":["AWS/EC2"]}],"detail":{"$or":[{"source":["aws.cloudwatch"]},{"detail-type":["CloudWatch Alarm State Change"]}]}}`,
		`{"namespace":"AWS/EC2","detail":{"detail-type":"other"}}`, false},
	{"or with and inside", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"metricType":["MetricType"],"namespace":["AWS/EC2","AWS/ES"]},{"scope":["Service"]}]}`,
		`{"source":"aws.cloudwatch","metricType":"MetricType","namespace":"AWS/ES"}`, true},
	{"or with and inside partial", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"metricType":["MetricType"],"namespace":["AWS/EC2","AWS/ES"]},{"scope":["Service"]}]}`,
		`{"source":"aws.cloudwatch","metricType":"MetricType"}`, false},
	{"nested or", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"metricType":["MetricType"],"namespace":["AWS/EC2"],"$or":[{"metricId":[1234]},{"spaceId":[1000]}]}]}`,
		`{"source":"aws.cloudwatch","metricType":"MetricType","namespace":"AWS/EC2","spaceId":1000}`, true},
	{"nested or miss", `{"source":["aws.cloudwatch"],"$or":[{"metricName":["CPUUtilization"]},{"metricType":["MetricType"],"namespace":["AWS/EC2"],"$or":[{"metricId":[1234]},{"spaceId":[1000]}]}]}`,
		`{"source":"aws.cloudwatch","metricType":"MetricType","namespace":"AWS/EC2","spaceId":1001}`, false},
	{"or with exists false", `{"$or":[{"a":[{"exists":false}]},{"a":["x"]}]}`, `{"b":1}`, true},

	// Several operators in one list, and repeated fields.
	{"mixed list", `{"a":[{"prefix":"x"},{"numeric":[">",10]},"y"]}`, `{"a":11}`, true},
	{"repeated object merges", `{"d":{"a":["1"]},"d":{"b":["2"]}}`, `{"d":{"a":"1","b":"3"}}`, false},
	{"repeated object merges match", `{"d":{"a":["1"]},"d":{"b":["2"]}}`, `{"d":{"a":"1","b":"2"}}`, true},
	{"repeated list replaces", `{"a":["1"],"a":["2"]}`, `{"a":"2"}`, true},
	{"dollar or as event field", `{"x":["1"]}`, `{"$or":[1],"x":"1"}`, true},
}

func TestMatch(t *testing.T) {
	for _, c := range matchCases {
		p, err := Compile(c.pattern)
		if err != nil {
			t.Errorf("%s: Compile: %v", c.name, err)
			continue
		}
		got, err := p.Match([]byte(c.event))
		if err != nil {
			t.Errorf("%s: Match: %v", c.name, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s: Match = %v, want %v", c.name, got, c.want)
		}
		m, err := Decode([]byte(c.event))
		if err != nil {
			t.Fatalf("%s: Decode: %v", c.name, err)
		}
		if p.MatchValue(m) != got {
			t.Errorf("%s: MatchValue differs from Match", c.name)
		}
	}
}

type errorCase struct {
	name    string
	pattern string
	reason  string
}

var errorCases = []errorCase{
	{"not an object", `["a"]`, "Filter is not an object"},
	{"empty", ``, "Filter is not an object"},
	{"string", `"x"`, "Filter is not an object"},
	{"empty object", `{}`, "Empty objects are not allowed"},
	{"empty nested object", `{"detail":{}}`, "Empty objects are not allowed"},
	{"leaf not array", `{"source":"aws.ec2"}`, `"source" must be an object or an array`},
	{"leaf number", `{"detail":{"c":5}}`, `"c" must be an object or an array`},
	{"empty array", `{"source":[]}`, "Empty arrays are not allowed"},
	{"nested array", `{"source":[["a"]]}`, "Match value must be String, number, true, false, or null"},
	{"unknown operator", `{"a":[{"regex":"x"}]}`, "Unrecognized match type regex"},
	{"empty operator", `{"a":[{}]}`, "Match expression name not found"},
	{"two keys", `{"a":[{"prefix":"x","suffix":"y"}]}`, "Only one key allowed in match expression"},
	{"prefix not string", `{"a":[{"prefix":1}]}`, "prefix match pattern must be a string"},
	{"suffix not string", `{"a":[{"suffix":null}]}`, "suffix match pattern must be a string"},
	{"prefix bad object", `{"a":[{"prefix":{"wildcard":"x"}}]}`, "Unsupported prefix pattern: wildcard"},
	{"prefix empty object", `{"a":[{"prefix":{}}]}`, "Prefix expression name not found"},
	{"suffix fold not string", `{"a":[{"suffix":{"equals-ignore-case":1}}]}`, "equals-ignore-case match pattern must be a string"},
	{"fold not string", `{"a":[{"equals-ignore-case":["x"]}]}`, "equals-ignore-case match pattern must be a string"},
	{"exactly not string", `{"a":[{"exactly":1}]}`, "exact match pattern must be a string"},
	{"wildcard not string", `{"a":[{"wildcard":1}]}`, "wildcard match pattern must be a string"},
	{"wildcard consecutive", `{"a":[{"wildcard":"a**b"}]}`, "Consecutive wildcard characters at pos 2"},
	{"wildcard bad escape", `{"a":[{"wildcard":"a\\b"}]}`, "Invalid escape character at pos 2"},
	{"wildcard trailing backslash", `{"a":[{"wildcard":"ab\\"}]}`, "Invalid escape character at pos 3"},
	{"exists not bool", `{"a":[{"exists":"true"}]}`, "exists match pattern must be either true or false."},
	{"numeric not array", `{"a":[{"numeric":5}]}`, "Value of numeric must be an array."},
	{"numeric empty", `{"a":[{"numeric":[]}]}`, "Invalid member in numeric match: ]"},
	{"numeric number first", `{"a":[{"numeric":[5]}]}`, "Invalid member in numeric match: 5"},
	{"numeric unknown op", `{"a":[{"numeric":["!=",5]}]}`, "Unrecognized numeric range operator: !="},
	{"numeric eq not number", `{"a":[{"numeric":["=","5"]}]}`, "Value of equals must be numeric"},
	{"numeric gt missing", `{"a":[{"numeric":[">"]}]}`, "Value of > must be numeric"},
	{"numeric lt extra", `{"a":[{"numeric":["<",5,">",1]}]}`, "Too many elements in numeric expression"},
	{"numeric bad upper op", `{"a":[{"numeric":[">",0,">",5]}]}`, "Bad numeric range operator: >"},
	{"numeric bad upper", `{"a":[{"numeric":[">",0,5]}]}`, "Bad value in numeric range: 5"},
	{"numeric upper not number", `{"a":[{"numeric":[">",0,"<","5"]}]}`, "Value of < must be numeric"},
	{"numeric too many terms", `{"a":[{"numeric":[">",0,"<",5,"<",6]}]}`, "Too many terms in numeric range expression"},
	{"numeric reversed", `{"a":[{"numeric":[">",5,"<",1]}]}`, "Bottom must be less than top"},
	{"numeric empty range", `{"a":[{"numeric":[">=",5,"<=",5]}]}`, "Bottom must be less than top"},
	{"numeric out of range", `{"a":[{"numeric":[">",5.1e9]}]}`, "Value must be between -5.0E9 and 5.0E9, inclusive"},
	{"numeric extra key", `{"a":[{"numeric":[">",1],"prefix":"x"}]}`, "Too many elements in numeric expression"},
	{"anything-but bool", `{"a":[{"anything-but":true}]}`, "Value of anything-but must be an array or single string/number value."},
	{"anything-but list null", `{"a":[{"anything-but":["a",null]}]}`, "Inside anything but list, start|null|boolean is not supported."},
	{"anything-but mixed", `{"a":[{"anything-but":["a",1]}]}`, "Inside anything but list, either all values are number or string, mixed type is not supported"},
	{"anything-but empty list", `{"a":[{"anything-but":[]}]}`, "Inside anything but list, either all values are number or string, mixed type is not supported"},
	{"anything-but unknown", `{"a":[{"anything-but":{"numeric":[">",1]}}]}`, "Unsupported anything-but pattern: numeric"},
	{"anything-but empty object", `{"a":[{"anything-but":{}}]}`, "Anything-But expression name not found"},
	{"anything-but prefix empty", `{"a":[{"anything-but":{"prefix":""}}]}`, "Null prefix/suffix not allowed"},
	{"anything-but prefix number", `{"a":[{"anything-but":{"prefix":1}}]}`, "prefix/suffix match pattern must be a string"},
	{"anything-but fold number", `{"a":[{"anything-but":{"equals-ignore-case":[1]}}]}`, "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported."},
	{"anything-but wildcard bad", `{"a":[{"anything-but":{"wildcard":"a**"}}]}`, "Consecutive wildcard characters at pos 2"},
	{"anything-but extra key", `{"a":[{"anything-but":"x","exists":true}]}`, "Too many elements in numeric expression"},
	{"anything-but number out of range", `{"a":[{"anything-but":[6e9]}]}`, "Value must be between -5.0E9 and 5.0E9, inclusive"},
	{"cidr not string", `{"a":[{"cidr":10}]}`, "prefix match pattern must be a string"},
	{"cidr no slash", `{"a":[{"cidr":"10.0.0.0"}]}`, "Malformed CIDR, one '/' required"},
	{"cidr two slashes", `{"a":[{"cidr":"10.0.0.0/8/8"}]}`, "Malformed CIDR, one '/' required"},
	{"cidr bad bits", `{"a":[{"cidr":"10.0.0.0/x"}]}`, "Malformed CIDR, mask bits must be an integer"},
	{"cidr negative bits", `{"a":[{"cidr":"10.0.0.0/-1"}]}`, "Malformed CIDR, mask bits must not be negative"},
	{"cidr v4 bits", `{"a":[{"cidr":"10.0.0.0/32"}]}`, "IPv4 mask bits must be < 32"},
	{"cidr v6 bits", `{"a":[{"cidr":"::/128"}]}`, "IPv6 mask bits must be < 128"},
	{"cidr hostname", `{"a":[{"cidr":"example.com/8"}]}`, "Nonstandard IP address: example.com"},
	{"cidr bad address", `{"a":[{"cidr":"300.0.0.0/8"}]}`, "Invalid IP address: 300.0.0.0"},
	{"or not array", `{"$or":{"a":["1"]}}`, "It must be an Array followed with $or."},
	{"or one object", `{"$or":[{"a":["1"]}]}`, "There must have at least 2 Objects in $or relationship."},
	{"or non object", `{"$or":[{"a":["1"]},"b"]}`, "Only JSON object is allowed in array of $or relationship."},
	{"or empty object", `{"$or":[{"a":["1"]},{}]}`, "Empty objects are not allowed"},
	{"or reserved name", `{"$or":[{"numeric":[1]},{"prefix":["abc"]}]}`, "numeric is Ruler reserved fieldName which cannot be used inside $or."},
	{"or reserved nested", `{"$or":[{"a":{"cidr":["1"]}},{"b":["abc"]}]}`, "cidr is Ruler reserved fieldName which cannot be used inside $or."},
	{"trailing content", `{"a":["1"]} {"b":["2"]}`, "Unexpected content after the event pattern's closing '}'"},
	{"unterminated", `{"a":["1"]`, "Unexpected end-of-input"},
}

func TestCompileErrors(t *testing.T) {
	for _, c := range errorCases {
		p, err := Compile(c.pattern)
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("%s: Compile = %v, %v; want *Error", c.name, p, err)
			continue
		}
		if pe.Reason != c.reason {
			t.Errorf("%s: reason %q, want %q", c.name, pe.Reason, c.reason)
		}
		if want := "Event pattern is not valid. Reason: " + c.reason; err.Error() != want {
			t.Errorf("%s: Error() = %q", c.name, err.Error())
		}
	}
}

func TestInvalidJSON(t *testing.T) {
	for _, s := range []string{`{"a":[1,]}`, `{"a" ["x"]}`, `{a:["x"]}`, `{"a":["x"]]`} {
		_, err := Compile(s)
		var pe *Error
		if !errors.As(err, &pe) || pe.Reason == "" {
			t.Errorf("Compile(%s) = %v, want *Error", s, err)
		}
	}
}

func TestEventNotObject(t *testing.T) {
	p, err := Compile(`{"a":[{"exists":false}]}`)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{``, `[]`, `"x"`, `null`, `{"a":1`, `{} {}`, `{"a":1}x`} {
		if _, err := p.Match([]byte(ev)); !errors.Is(err, ErrEventNotObject) {
			t.Errorf("Match(%q) error = %v, want ErrEventNotObject", ev, err)
		}
	}
	if ok, err := p.Match([]byte(` {} `)); err != nil || !ok {
		t.Errorf("Match({}) = %v, %v", ok, err)
	}
}

// MatchValue accepts events decoded without UseNumber too.
func TestMatchValueFloat64(t *testing.T) {
	p, err := Compile(`{"a":[{"numeric":[">",1]}],"b":[2]}`)
	if err != nil {
		t.Fatal(err)
	}
	if !p.MatchValue(map[string]any{"a": 1.5, "b": 2.0}) {
		t.Error("float64 values did not match")
	}
	if p.MatchValue(map[string]any{"a": 0.5, "b": 2.0}) {
		t.Error("0.5 matched > 1")
	}
}
