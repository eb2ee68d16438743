package kms

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/ecrd/ecrd/internal/awserr"
)

// validation collects the model constraint failures of one request, to
// answer them together as AWS does: "2 validation errors detected: Value
// 'x' at 'aliasName' failed to satisfy constraint: ...; Value ...".
type validation struct {
	msgs []string
}

// fail records a constraint failure of member (the model's camelCase
// member path). A nil value is left out of the message, as AWS leaves out
// sensitive values (plaintext, ciphertext).
func (v *validation) fail(value *string, member, constraint string) {
	var b strings.Builder
	b.WriteString("Value ")
	if value != nil {
		b.WriteString("'" + *value + "' ")
	}
	b.WriteString("at '" + member + "' failed to satisfy constraint: " + constraint)
	v.msgs = append(v.msgs, b.String())
}

// length checks a string member's length in characters.
func (v *validation) length(value, member string, min, max int) {
	n := len([]rune(value))
	switch {
	case n < min:
		v.fail(&value, member, "Member must have length greater than or equal to "+strconv.Itoa(min))
	case n > max:
		v.fail(&value, member, "Member must have length less than or equal to "+strconv.Itoa(max))
	}
}

// secretLength checks a blob member's length without echoing it.
func (v *validation) secretLength(n int, member string, min, max int) {
	switch {
	case n < min:
		v.fail(nil, member, "Member must have length greater than or equal to "+strconv.Itoa(min))
	case n > max:
		v.fail(nil, member, "Member must have length less than or equal to "+strconv.Itoa(max))
	}
}

// number checks an integer member's range.
func (v *validation) number(value int, member string, min, max int) {
	s := strconv.Itoa(value)
	switch {
	case value < min:
		v.fail(&s, member, "Member must have value greater than or equal to "+strconv.Itoa(min))
	case value > max:
		v.fail(&s, member, "Member must have value less than or equal to "+strconv.Itoa(max))
	}
}

// enum checks an enumerated member, when it is set.
func (v *validation) enum(value, member string, allowed []string) {
	if value == "" {
		return
	}
	for _, a := range allowed {
		if a == value {
			return
		}
	}
	v.fail(&value, member, "Member must satisfy enum value set: ["+strings.Join(allowed, ", ")+"]")
}

func (v *validation) pattern(value, member string, re *regexp.Regexp) {
	if !re.MatchString(value) {
		v.fail(&value, member, "Member must satisfy regular expression pattern: "+re.String())
	}
}

// err returns the collected failures as one ValidationException.
func (v *validation) err() error {
	switch len(v.msgs) {
	case 0:
		return nil
	case 1:
		return awserr.Errorf(CodeValidation, "1 validation error detected: %s", v.msgs[0])
	}
	return awserr.Errorf(CodeValidation, "%d validation errors detected: %s", len(v.msgs), strings.Join(v.msgs, "; "))
}

// The KMS model's limits.
const (
	maxKeyIDLength       = 2048
	maxDescriptionLength = 8192
	maxPolicyLength      = 131072 // the model's; key policies are further limited by iampolicy
	maxAliasLength       = 256
	maxPlaintext         = 4096
	maxCiphertext        = 6144
	maxTagKey            = 128
	maxTagValue          = 256
	maxTags              = 50
	maxDataKeyBytes      = 1024
	minPendingWindow     = 7
	maxPendingWindow     = 30
	defaultPendingWindow = 30
	minRotationPeriod    = 90
	maxRotationPeriod    = 2560
	defaultRotationDays  = 365
	maxOnDemandRotations = 10
	maxLimit             = 1000
	maxMarkerLength      = 1024
)

var (
	aliasNameRE  = regexp.MustCompile(`^[a-zA-Z0-9:/_-]+$`)
	policyNameRE = regexp.MustCompile(`^[\w]+$`)
)

// The enumerations the model gives for CreateKey, in the SDK's order.
var (
	keyUsages = []string{"SIGN_VERIFY", "ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT", "ENCAPSULATE_DECAPSULATE"}
	keySpecs  = []string{"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1",
		"SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512", "SM2", "ML_DSA_44", "ML_DSA_65", "ML_DSA_87",
		"ECC_NIST_EDWARDS25519", "ML_KEM_512", "ML_KEM_768", "ML_KEM_1024"}
	cmkSpecs = []string{"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1",
		"SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512", "SM2"}
	origins       = []string{"AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"}
	dataKeySpecs  = []string{"AES_256", "AES_128"}
	encAlgorithms = []string{"SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE"}
	messageTypes  = []string{"RAW", "DIGEST", "EXTERNAL_MU"}
	// The model's SigningAlgorithmSpec, in the SDK's order.
	signingAlgorithmNames = []string{"RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_384", "RSASSA_PSS_SHA_512",
		"RSASSA_PKCS1_V1_5_SHA_256", "RSASSA_PKCS1_V1_5_SHA_384", "RSASSA_PKCS1_V1_5_SHA_512",
		"ECDSA_SHA_256", "ECDSA_SHA_384", "ECDSA_SHA_512", "SM2DSA", "ML_DSA_SHAKE_256"}
	// The model's GrantOperation, in the SDK's order.
	grantOperations = []string{"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
		"ReEncryptFrom", "ReEncryptTo", "Sign", "Verify", "GetPublicKey", "CreateGrant", "RetireGrant", "DescribeKey",
		"GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GenerateMac", "VerifyMac", "DeriveSharedSecret",
		"Encapsulate", "Decapsulate"}
)

// keyRef checks a KeyId member's model constraints.
func (v *validation) keyRef(value, member string) {
	v.length(value, member, 1, maxKeyIDLength)
}

// validTags checks tags as KMS does: the model's lengths first
// (ValidationException), then KMS's own rules (TagException).
func validTags(tags []Tag) error {
	var v validation
	for i, t := range tags {
		n := strconv.Itoa(i + 1)
		v.length(t.Key, "tags."+n+".member.tagKey", 1, maxTagKey)
		v.length(t.Value, "tags."+n+".member.tagValue", 0, maxTagValue)
	}
	if err := v.err(); err != nil {
		return err
	}
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		if strings.HasPrefix(t.Key, "aws:") {
			return awserr.Errorf(CodeTag, "Tags beginning with aws: are reserved")
		}
		if seen[t.Key] {
			return awserr.Errorf(CodeTag, "Duplicate tag keys")
		}
		seen[t.Key] = true
	}
	if len(tags) > maxTags {
		return awserr.Errorf(CodeTag, "Too many tags")
	}
	return nil
}

// limit checks a page size (nil: not given) and applies the operation's
// default and maximum.
func (v *validation) limit(limit *int, def, most int) int {
	if limit == nil {
		return def
	}
	v.number(*limit, "limit", 1, maxLimit)
	return min(max(*limit, 1), most)
}

func (v *validation) marker(marker string) {
	if marker != "" {
		v.length(marker, "marker", 1, maxMarkerLength)
	}
}
