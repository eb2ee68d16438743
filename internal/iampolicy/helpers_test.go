package iampolicy

import "testing"

const (
	acctA = "111111111111"
	acctB = "222222222222"
	acctC = "333333333333"
)

func mustParse(t testing.TB, doc string, k Kind) *Policy {
	t.Helper()
	p, err := Parse(doc, k)
	if err != nil {
		t.Fatalf("Parse(%s): %v", doc, err)
	}
	return p
}

func named(t testing.TB, name, doc string, k Kind) Named {
	return Named{Name: name, Policy: mustParse(t, doc, k)}
}

func namedp(t testing.TB, name, doc string, k Kind) *Named {
	n := named(t, name, doc, k)
	return &n
}

func user(acct, name string) Principal {
	return Principal{Type: "User", Account: acct, ARN: "arn:aws:iam::" + acct + ":user/" + name,
		UserID: "AIDAEXAMPLEUSER" + acct, Username: name}
}

func session(acct, path, role, sess string) Principal {
	return Principal{Type: "AssumedRole", Account: acct,
		ARN:     "arn:aws:sts::" + acct + ":assumed-role/" + role + "/" + sess,
		RoleARN: "arn:aws:iam::" + acct + ":role/" + path + role,
		UserID:  "AROAEXAMPLEROLE" + acct + ":" + sess}
}

func root(acct string) Principal {
	return Principal{Type: "Account", Account: acct, ARN: "arn:aws:iam::" + acct + ":root", UserID: acct}
}

func repo(acct, name string) string {
	return "arn:aws:ecr:us-east-1:" + acct + ":repository/" + name
}

func req(p Principal, action, resource, resAcct string) Request {
	return Request{Action: action, Resource: resource, ResourceAccount: resAcct, Principal: p}
}
