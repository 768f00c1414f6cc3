// Package npi checks National Provider Identifiers, which the converters
// use to tell a real provider's NPI from the placeholders EHRs fill in.
package npi

// Valid reports whether s is an NPI: ten digits, the last a Luhn check
// digit computed over the card issuer prefix 80840 and the other nine
// (CMS, "Requirements for NPI Check Digit"; 45 CFR 162.406).
func Valid(s string) bool {
	if len(s) != 10 {
		return false
	}
	sum := 24 // the prefix 80840's share of the Luhn sum
	for i := 0; i < 10; i++ {
		d := int(s[i]) - '0'
		if d < 0 || d > 9 {
			return false
		}
		if i%2 == 0 { // doubled: every other digit from the check digit's left
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}
