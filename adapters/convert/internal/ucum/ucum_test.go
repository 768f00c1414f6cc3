package ucum

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	for _, s := range []string{
		// The brief's clinical units.
		"mg/dL", "mmol/L", "10*3/uL", "10*9/L", "/uL", "g/dL", "mL/min/{1.73_m2}", "[IU]/L",
		"kg/m2", "%", "{beats}/min", "mm[Hg]", "Cel", "[degF]", "meq/L", "ug/mL", "fL", "pg",
		"U/L", "{copies}/mL", "1", "/[HPF]", "[in_i]", "[lb_av]", "mL/(24.h)",
		// Units the corpus labels UCUM.
		"10*12/L", "h", "a", "ug", "/min", "ml/min", "g/dl", "mg/mL", "mm", "cm", "kg",
		"[in_us]", "{cells}/uL", "pg/{cell}", "g/mL", "10*6/uL",
		// Grammar corners.
		"s-1", "m+2", "10*-3", "10^3", "10*", "mL{total}", "{score}", "kg.m/s2", "m2.5",
		"m[iU]/L", "k[IU]", "[arb'U]", "[ppm]", "[pH]", "cm[H2O]", "B[10.nV]", "%[slope]",
		"[m/s2/Hz^(1/2)]", "dam", "cd", "Pa", "KiBy", "/(24.h)", "((mg))", "K", "mK",
		"umol/min/g", "mosm/kg", "nmol/(24.h)", "[iU]/mL", "/[LPF]", "{RBC}/[HPF]",
	} {
		if !Valid(s) {
			t.Errorf("Valid(%q) = false, want true", s)
		}
	}
}

func TestInvalid(t *testing.T) {
	for _, s := range []string{
		// The brief's and the corpus's non-UCUM units.
		"Puffs", "mcg", "K/uL", "mEq/L", "10+3/ul", "cells/mcL", "mg/actuat", "mg /dL", "",
		// Wrong case: UCUM is case-sensitive.
		"MG/DL", "DL", "MMOL/L", "[iu]", "cel", "MEQ/L",
		// Prefix on a non-metric atom, or two prefixes.
		"k[in_i]", "m%", "kmin", "k10*", "mmg", "mcL",
		// Grammar errors.
		"/", "mg/", "mg//dL", "mg.", ".mg", "(mg", "mg)", "()", "{}", "{a", "a}", "{a b}",
		"mg{x}{y}", "{x}mg", "24{x}{y}", "2mg", "mg2x", "+2", "[IU", "IU]", "[[IU]]",
		"m2.5.", "mg(x)", " mg", "mg ", "mg\t", "µg", "K/mm3", "10*3.K",
		"mg/dL;", "x", "beats/min",
		// Deep nesting is refused rather than recursed.
		strings.Repeat("(", 100) + "m" + strings.Repeat(")", 100),
	} {
		if Valid(s) {
			t.Errorf("Valid(%q) = true, want false", s)
		}
	}
}

// TestFactorAnnotation: UCUM's common-units table (Table of Example
// UCUM Codes for Electronic Messaging) gives the differential counts
// "/100{WBCs}", "/100{cells}" and "/100{spermatozoa}", and UCUM's formal
// grammar lets a factor, like a unit, carry annotations
// (term: element (exponent)? (ANN)*, simpleUnit: ... | DIGITS); they
// were refused, so such a result lost its UCUM coding.
func TestFactorAnnotation(t *testing.T) {
	for _, s := range []string{"/100{WBCs}", "/100{cells}", "/100{spermatozoa}", "/100{neutrophils}", "100{WBCs}", "mL/(24{x}.h)"} {
		if !Valid(s) {
			t.Errorf("Valid(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"/100{}", "/100{WBCs", "/100{WBCs}{x}", "/100 {WBCs}", "{WBCs}100"} {
		if Valid(s) {
			t.Errorf("Valid(%q) = true, want false", s)
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, s := range []string{"mg/dL", "mL/(24.h)", "{a}/[HPF]", "B[10.nV]", "10*3/uL"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		Valid(s) // must not panic or hang
	})
}
