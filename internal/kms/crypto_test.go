package kms

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestEncryptDecrypt(t *testing.T) {
	f := newFixture(t)
	k := f.createKey(t, CreateKeyInput{})
	must(t, "CreateAlias", f.svc.CreateAlias(f.root, scope, "alias/data", k.ID))
	encCtx := map[string]string{"repository": "team/app", "purpose": "layer"}
	for _, c := range []struct {
		name   string
		keyRef string
		pt     []byte
		ctx    map[string]string
	}{
		{"by ID, no context", k.ID, []byte("hello"), nil},
		{"by alias, with context", "alias/data", []byte("secret bytes"), encCtx},
		{"by ARN, largest", k.ARN, bytes.Repeat([]byte{7}, 4096), encCtx},
		{"empty context value", k.ID, []byte{0}, map[string]string{"k": ""}},
	} {
		e, err := f.svc.Encrypt(f.root, scope, EncryptInput{KeyID: c.keyRef, Plaintext: c.pt, EncryptionContext: c.ctx})
		if err != nil || e.KeyARN != k.ARN || e.KeyMaterialID != k.CurrentMaterialID {
			t.Fatalf("%s: Encrypt = %+v, %v", c.name, e, err)
		}
		if bytes.Contains(e.CiphertextBlob, c.pt) && len(c.pt) > 4 {
			t.Fatalf("%s: the ciphertext contains the plaintext", c.name)
		}
		d, err := f.svc.Decrypt(f.root, scope, DecryptInput{CiphertextBlob: e.CiphertextBlob, EncryptionContext: c.ctx})
		if err != nil || !bytes.Equal(d.Plaintext, c.pt) || d.KeyARN != k.ARN {
			t.Fatalf("%s: Decrypt = %+v, %v", c.name, d, err)
		}
		d, err = f.svc.Decrypt(f.root, scope, DecryptInput{CiphertextBlob: e.CiphertextBlob, EncryptionContext: c.ctx, KeyID: "alias/data"})
		if err != nil || !bytes.Equal(d.Plaintext, c.pt) {
			t.Fatalf("%s: Decrypt naming the key = %v", c.name, err)
		}
	}

	e, err := f.svc.Encrypt(f.root, scope, EncryptInput{KeyID: k.ID, Plaintext: []byte("p"), EncryptionContext: encCtx})
	must(t, "Encrypt", err)
	for name, wrong := range map[string]map[string]string{
		"no context":     nil,
		"other value":    {"repository": "team/other", "purpose": "layer"},
		"missing pair":   {"repository": "team/app"},
		"extra pair":     {"repository": "team/app", "purpose": "layer", "x": "y"},
		"shifted border": {"repository": "team/applayer", "purpose": ""},
	} {
		_, err := f.svc.Decrypt(f.root, scope, DecryptInput{CiphertextBlob: e.CiphertextBlob, EncryptionContext: wrong})
		wantErr(t, "Decrypt with "+name, err, CodeInvalidCiphertext, "")
	}
	other := f.createKey(t, CreateKeyInput{})
	_, err = f.svc.Decrypt(f.root, scope, DecryptInput{CiphertextBlob: e.CiphertextBlob, EncryptionContext: encCtx, KeyID: other.ID})
	wantErr(t, "Decrypt naming another key", err, CodeIncorrectKey, "The key ID in the request does not identify a CMK that can perform this operation.")
	_, err = f.svc.Decrypt(f.root, Scope{Account: acct, Region: "eu-west-1"}, DecryptInput{CiphertextBlob: e.CiphertextBlob, EncryptionContext: encCtx})
	wantErr(t, "Decrypt in another region", err, CodeInvalidCiphertext, "decrypt it in that region")

	for _, c := range []struct {
		name          string
		in            EncryptInput
		code, message string
	}{
		{"empty", EncryptInput{KeyID: k.ID}, CodeValidation, "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"too long", EncryptInput{KeyID: k.ID, Plaintext: make([]byte, 4097)}, CodeValidation, "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096"},
		{"algorithm", EncryptInput{KeyID: k.ID, Plaintext: []byte("x"), EncryptionAlgorithm: "RSAES_OAEP_SHA_1"}, CodeInvalidKeyUsage, "Algorithm RSAES_OAEP_SHA_1 is incompatible with key spec SYMMETRIC_DEFAULT."},
		{"bad algorithm", EncryptInput{KeyID: k.ID, Plaintext: []byte("x"), EncryptionAlgorithm: "AES"}, CodeValidation, "at 'encryptionAlgorithm'"},
		{"dry run", EncryptInput{KeyID: k.ID, Plaintext: []byte("x"), DryRun: true}, CodeDryRun, "The request would have succeeded, but the DryRun option is set."},
	} {
		_, err := f.svc.Encrypt(f.root, scope, c.in)
		wantErr(t, "Encrypt "+c.name, err, c.code, c.message)
	}
	_, err = f.svc.Decrypt(f.root, scope, DecryptInput{CiphertextBlob: make([]byte, 6145)})
	wantErr(t, "Decrypt too long", err, CodeValidation, "Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length less than or equal to 6144")
	_, err = f.svc.Decrypt(f.root, scope, DecryptInput{CiphertextBlob: []byte("not a blob at all, but long enough to parse as one maybe")})
	wantErr(t, "Decrypt garbage", err, CodeInvalidCiphertext, "")
}

func TestGenerateDataKey(t *testing.T) {
	f := newFixture(t)
	k := f.createKey(t, CreateKeyInput{})
	encCtx := map[string]string{"a": "b"}
	for _, c := range []struct {
		in   DataKeyInput
		size int
	}{
		{DataKeyInput{KeyID: k.ID, KeySpec: "AES_256"}, 32},
		{DataKeyInput{KeyID: k.ID, KeySpec: "AES_128", EncryptionContext: encCtx}, 16},
		{DataKeyInput{KeyID: k.ARN, NumberOfBytes: ptr(1024)}, 1024},
		{DataKeyInput{KeyID: k.ID, NumberOfBytes: ptr(1)}, 1},
	} {
		dk, err := f.svc.GenerateDataKey(f.root, scope, c.in)
		if err != nil || len(dk.Plaintext) != c.size || dk.KeyARN != k.ARN {
			t.Fatalf("GenerateDataKey(%+v) = %d bytes, %v", c.in, len(dk.Plaintext), err)
		}
		d, err := f.svc.Decrypt(f.root, scope, DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: c.in.EncryptionContext})
		if err != nil || !bytes.Equal(d.Plaintext, dk.Plaintext) {
			t.Fatalf("Decrypt of a data key: %v", err)
		}
	}
	dk, err := f.svc.GenerateDataKeyWithoutPlaintext(f.root, scope, DataKeyInput{KeyID: k.ID, KeySpec: "AES_256", EncryptionContext: encCtx})
	if err != nil || dk.Plaintext != nil || len(dk.CiphertextBlob) == 0 {
		t.Fatalf("GenerateDataKeyWithoutPlaintext = %+v, %v", dk, err)
	}
	d, err := f.svc.Decrypt(f.root, scope, DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: encCtx})
	if err != nil || len(d.Plaintext) != 32 {
		t.Fatalf("Decrypt of a data key made without plaintext: %v", err)
	}
	for _, c := range []struct {
		name          string
		in            DataKeyInput
		code, message string
	}{
		{"neither", DataKeyInput{KeyID: k.ID}, CodeValidation, "Please specify either number of bytes or key spec."},
		{"both", DataKeyInput{KeyID: k.ID, KeySpec: "AES_256", NumberOfBytes: ptr(32)}, CodeValidation, "Please specify either number of bytes or key spec."},
		{"0 bytes", DataKeyInput{KeyID: k.ID, NumberOfBytes: ptr(0)}, CodeValidation, "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{"1025 bytes", DataKeyInput{KeyID: k.ID, NumberOfBytes: ptr(1025)}, CodeValidation, "Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024"},
		{"spec", DataKeyInput{KeyID: k.ID, KeySpec: "AES_512"}, CodeValidation, "Value 'AES_512' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"},
		{"dry run", DataKeyInput{KeyID: k.ID, KeySpec: "AES_256", DryRun: true}, CodeDryRun, "DryRun"},
	} {
		_, err := f.svc.GenerateDataKey(f.root, scope, c.in)
		wantErr(t, "GenerateDataKey "+c.name, err, c.code, c.message)
	}
}

func TestRotationKeepsOldCiphertexts(t *testing.T) {
	f := newFixture(t)
	k := f.createKey(t, CreateKeyInput{})
	first, err := f.svc.Encrypt(f.root, scope, EncryptInput{KeyID: k.ID, Plaintext: []byte("v1")})
	must(t, "Encrypt", err)

	rotated, err := f.svc.RotateKeyOnDemand(f.root, scope, k.ID)
	if err != nil || rotated.CurrentMaterialID == k.CurrentMaterialID {
		t.Fatalf("RotateKeyOnDemand = %+v, %v", rotated, err)
	}
	second, err := f.svc.Encrypt(f.root, scope, EncryptInput{KeyID: k.ID, Plaintext: []byte("v2")})
	if err != nil || second.KeyMaterialID != rotated.CurrentMaterialID {
		t.Fatalf("Encrypt after rotation used %s, want %s (%v)", second.KeyMaterialID, rotated.CurrentMaterialID, err)
	}

	// Automatic rotation happens when the key is next used after its date.
	must(t, "EnableKeyRotation", f.svc.EnableKeyRotation(f.root, scope, k.ID, ptr(90)))
	f.clock = f.clock.Add(91 * 24 * time.Hour)
	third, err := f.svc.Encrypt(f.root, scope, EncryptInput{KeyID: k.ID, Plaintext: []byte("v3")})
	must(t, "Encrypt after the rotation date", err)
	if third.KeyMaterialID == second.KeyMaterialID {
		t.Fatal("automatic rotation did not happen")
	}
	st, _ := f.svc.KeyRotationStatus(f.root, scope, k.ID)
	if !st.Rotation.NextRotation.Equal(f.clock.Add(90 * 24 * time.Hour)) {
		t.Fatalf("next rotation %v", st.Rotation.NextRotation)
	}
	for i, e := range []Encrypted{first, second, third} {
		d, err := f.svc.Decrypt(f.root, scope, DecryptInput{CiphertextBlob: e.CiphertextBlob})
		if err != nil || string(d.Plaintext) != "v"+string(rune('1'+i)) || d.KeyMaterialID != e.KeyMaterialID {
			t.Fatalf("Decrypt of ciphertext %d: %q %v", i+1, d.Plaintext, err)
		}
	}
	for range 9 {
		_, err = f.svc.RotateKeyOnDemand(f.root, scope, k.ID)
		must(t, "RotateKeyOnDemand", err)
	}
	_, err = f.svc.RotateKeyOnDemand(f.root, scope, k.ID)
	wantErr(t, "the eleventh on-demand rotation", err, CodeLimitExceeded, "The on-demand rotations limit has been reached")
}

func TestUnusableKeys(t *testing.T) {
	f := newFixture(t)
	k := f.createKey(t, CreateKeyInput{})
	e, err := f.svc.Encrypt(f.root, scope, EncryptInput{KeyID: k.ID, Plaintext: []byte("x")})
	must(t, "Encrypt", err)
	_, dataKey, err := f.svc.DataKey(bg, k.ARN, nil)
	must(t, "DataKey", err)

	check := func(state, code, message string) {
		t.Helper()
		_, err := f.svc.Encrypt(f.root, scope, EncryptInput{KeyID: k.ID, Plaintext: []byte("x")})
		wantErr(t, "Encrypt with a key "+state, err, code, message)
		_, err = f.svc.Decrypt(f.root, scope, DecryptInput{CiphertextBlob: e.CiphertextBlob})
		wantErr(t, "Decrypt with a key "+state, err, code, message)
		_, err = f.svc.GenerateDataKey(f.root, scope, DataKeyInput{KeyID: k.ID, KeySpec: "AES_256"})
		wantErr(t, "GenerateDataKey with a key "+state, err, code, message)
		_, _, err = f.svc.DataKey(bg, k.ARN, nil)
		wantErr(t, "DataKey with a key "+state, err, code, message)
		_, _, err = f.svc.DecryptDataKey(bg, dataKey, nil)
		wantErr(t, "DecryptDataKey with a key "+state, err, code, message)
		_, err = f.svc.RotateKeyOnDemand(f.root, scope, k.ID)
		wantErr(t, "RotateKeyOnDemand of a key "+state, err, code, message)
	}
	must(t, "DisableKey", f.svc.DisableKey(f.root, scope, k.ID))
	check("disabled", CodeDisabled, k.ARN+" is disabled.")
	must(t, "EnableKey", f.svc.EnableKey(f.root, scope, k.ID))
	_, err = f.svc.ScheduleKeyDeletion(f.root, scope, k.ID, ptr(7))
	must(t, "ScheduleKeyDeletion", err)
	check("pending deletion", CodeInvalidState, k.ARN+" is pending deletion.")
	_, err = f.svc.CancelKeyDeletion(f.root, scope, k.ID)
	must(t, "CancelKeyDeletion", err)
	must(t, "EnableKey", f.svc.EnableKey(f.root, scope, k.ID))
	if _, err := f.svc.Decrypt(f.root, scope, DecryptInput{CiphertextBlob: e.CiphertextBlob}); err != nil {
		t.Fatalf("Decrypt after the key came back: %v", err)
	}
}

func TestDataKeyForECR(t *testing.T) {
	f := newFixture(t)
	k := f.createKey(t, CreateKeyInput{})
	must(t, "CreateAlias", f.svc.CreateAlias(f.root, scope, "alias/repo", k.ID))
	encCtx := map[string]string{"aws:ecr:arn": "arn:aws:ecr:us-east-1:" + acct + ":repository/app"}
	for _, ref := range []string{k.ARN, "arn:aws:kms:us-east-1:" + acct + ":alias/repo"} {
		pt, ct, err := f.svc.DataKey(bg, ref, encCtx)
		if err != nil || len(pt) != 32 {
			t.Fatalf("DataKey(%s): %v", ref, err)
		}
		got, arn, err := f.svc.DecryptDataKey(bg, ct, encCtx)
		if err != nil || arn != k.ARN || !bytes.Equal(got, pt) {
			t.Fatalf("DecryptDataKey: %s %v", arn, err)
		}
		_, _, err = f.svc.DecryptDataKey(bg, ct, nil)
		wantErr(t, "DecryptDataKey without the context", err, CodeInvalidCiphertext, "")
		// The API decrypts it too, for a caller the key policy allows.
		d, err := f.svc.Decrypt(f.root, scope, DecryptInput{CiphertextBlob: ct, EncryptionContext: encCtx})
		if err != nil || !bytes.Equal(d.Plaintext, pt) {
			t.Fatalf("Decrypt of a DataKey ciphertext: %v", err)
		}
	}
	_, _, err := f.svc.DataKey(bg, k.ID, nil)
	wantErr(t, "DataKey by bare ID", err, CodeInvalidArn, "is not a KMS key or alias ARN")
}

func TestBlobFormat(t *testing.T) {
	f := newFixture(t)
	k := f.createKey(t, CreateKeyInput{})
	e, err := f.svc.Encrypt(f.root, scope, EncryptInput{KeyID: k.ID, Plaintext: []byte("0123456789")})
	must(t, "Encrypt", err)
	b := e.CiphertextBlob
	n := len(region)
	if b[0] != 1 || string(b[1:13]) != acct || int(b[13]) != n || string(b[14:14+n]) != region ||
		len(b) != 14+n+16+4+12+10+16 || b[14+n+16+3] != 1 {
		t.Fatalf("blob layout %x", b)
	}
	parsed, err := parseBlob(b)
	if err != nil || parsed.keyID != k.ID || parsed.version != 1 || parsed.scope != scope {
		t.Fatalf("parseBlob = %+v, %v", parsed, err)
	}
	// Every single-byte change is refused.
	for i := range b {
		bad := bytes.Clone(b)
		bad[i] ^= 0x01
		if _, err := f.svc.Decrypt(f.root, scope, DecryptInput{CiphertextBlob: bad}); err == nil {
			t.Fatalf("a blob changed at byte %d decrypted", i)
		} else if e, ok := err.(*Error); !ok || !strings.HasSuffix(e.Code, "Exception") {
			t.Fatalf("byte %d: %v", i, err)
		}
	}
	// And so is every truncation.
	for i := range b {
		if _, err := f.svc.Decrypt(f.root, scope, DecryptInput{CiphertextBlob: b[:i]}); err == nil {
			t.Fatalf("a blob cut at %d decrypted", i)
		}
	}
}
