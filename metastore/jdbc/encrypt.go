package jdbc

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"strings"
	"unicode/utf8"
)

// kylinKey is the AES-128 key of Kylin's EncryptUtil, the same in every
// Kylin version since 2.x: the bytes 0x74 0x68 ... 0x79 of its source spell
// "thisIsASecretKey" (its comment says "thisIsAsecretKey"; the vectors of
// Kylin's own tests confirm the bytes).
var kylinKey = []byte("thisIsASecretKey")

// DefaultCipherIV is Kylin 3.x and 4.x's default
// kylin.security.encrypt.cipher.ivSpec.
const DefaultCipherIV = "AAAAAAAAAAAAAAAA"

// The ENC('...') wrapping of Kylin 5's encrypted values.
const (
	encPrefix = "ENC('"
	encSuffix = "')"
)

func isKylin5Encrypted(s string) bool {
	return len(s) >= len(encPrefix)+len(encSuffix) && strings.HasPrefix(s, encPrefix) && strings.HasSuffix(s, encSuffix)
}

// errBadCiphertext means a value is not something Kylin's EncryptUtil made.
var errBadCiphertext = errors.New("not a value encrypted by Kylin's EncryptUtil")

// DecryptPassword decrypts a password encrypted by Kylin's EncryptUtil, in
// any of its forms:
//
//   - Kylin 5: ENC('base64'), AES-128/ECB/PKCS5Padding;
//   - Kylin 3.1 to 4.x (passwordEncrypted=true): base64 of
//     AES-128/CFB/PKCS5Padding with the IV iv (kylin.security.encrypt.cipher.ivSpec,
//     DefaultCipherIV if empty);
//   - Kylin 2.x and 3.0 (passwordEncrypted=true): base64 of
//     AES-128/ECB/PKCS5Padding.
//
// Kylin's key is the fixed "thisIsASecretKey". A base64 value that is not
// in the ECB form is tried in the CFB form first, then in the ECB form; the
// padding and UTF-8 checks tell them apart. The error never holds the value.
func DecryptPassword(s, iv string) (string, error) {
	s = strings.TrimSpace(s)
	kylin5 := isKylin5Encrypted(s)
	if kylin5 {
		s = s[len(encPrefix) : len(s)-len(encSuffix)]
	}
	ct, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		// Commons Codec's decoder also takes the URL-safe alphabet and
		// missing padding.
		ct, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(strings.NewReplacer("-", "+", "_", "/").Replace(s), "="))
		if err != nil {
			return "", errBadCiphertext
		}
	}
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return "", errBadCiphertext
	}
	block, err := aes.NewCipher(kylinKey)
	if err != nil {
		return "", err
	}
	if !kylin5 {
		if iv == "" {
			iv = DefaultCipherIV
		}
		if len(iv) == aes.BlockSize {
			if pt, ok := unpad(decryptCFB(block, []byte(iv), ct)); ok {
				return pt, nil
			}
		}
	}
	if pt, ok := unpad(decryptECB(block, ct)); ok {
		return pt, nil
	}
	return "", errBadCiphertext
}

// decryptECB decrypts ct block by block.
func decryptECB(block cipher.Block, ct []byte) []byte {
	out := make([]byte, len(ct))
	for i := 0; i < len(ct); i += aes.BlockSize {
		block.Decrypt(out[i:i+aes.BlockSize], ct[i:i+aes.BlockSize])
	}
	return out
}

// decryptCFB decrypts ct in CFB mode with a full-block (128-bit) feedback,
// Java's "AES/CFB".
func decryptCFB(block cipher.Block, iv, ct []byte) []byte {
	out := make([]byte, len(ct))
	prev := make([]byte, aes.BlockSize)
	copy(prev, iv)
	ks := make([]byte, aes.BlockSize)
	for i := 0; i < len(ct); i += aes.BlockSize {
		block.Encrypt(ks, prev)
		n := min(aes.BlockSize, len(ct)-i)
		for j := 0; j < n; j++ {
			out[i+j] = ct[i+j] ^ ks[j]
		}
		copy(prev, ct[i:i+n])
	}
	return out
}

// unpad removes PKCS#5 padding and checks that the rest is UTF-8 text.
func unpad(b []byte) (string, bool) {
	if len(b) == 0 {
		return "", false
	}
	n := int(b[len(b)-1])
	if n < 1 || n > aes.BlockSize || n > len(b) {
		return "", false
	}
	for _, c := range b[len(b)-n:] {
		if int(c) != n {
			return "", false
		}
	}
	b = b[:len(b)-n]
	if !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}
