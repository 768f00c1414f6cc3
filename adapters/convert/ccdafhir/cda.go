package ccdafhir

// This file models the parts of CDA R2 (C-CDA R1.1 and R2.1) the converter
// reads. Tags without a namespace match the CDA namespace urn:hl7-org:v3;
// sdtc extensions are named explicitly so sdtc:raceCode never lands in the
// v3 raceCode field. Everything else in the document is skipped unread.

const (
	nsV3   = "urn:hl7-org:v3"
	nsSDTC = "urn:hl7-org:sdtc"
)

// ii is the CDA instance identifier (II).
type ii struct {
	Root       string `xml:"root,attr"`
	Extension  string `xml:"extension,attr"`
	NullFlavor string `xml:"nullFlavor,attr"`
}

// cd is a coded value (CD, CE, CV, CO, CS); originalText may point into the
// narrative by reference.
type cd struct {
	Code           string `xml:"code,attr"`
	CodeSystem     string `xml:"codeSystem,attr"`
	CodeSystemName string `xml:"codeSystemName,attr"`
	DisplayName    string `xml:"displayName,attr"`
	NullFlavor     string `xml:"nullFlavor,attr"`
	OriginalText   *ed    `xml:"originalText"`
	Translation    []cd   `xml:"translation"`
}

// ed is encapsulated data: free text, a narrative reference, or base64.
type ed struct {
	MediaType      string `xml:"mediaType,attr"`
	Representation string `xml:"representation,attr"`
	NullFlavor     string `xml:"nullFlavor,attr"`
	Text           string `xml:",chardata"`
	Reference      *tel   `xml:"reference"`

	data []byte // a nonXMLBody's base64 text decoded (docReader.takeB64)
}

// tel is a telecom address (TEL) or a URL reference.
type tel struct {
	Value      string `xml:"value,attr"`
	Use        string `xml:"use,attr"`
	NullFlavor string `xml:"nullFlavor,attr"`
}

// ts is a point in time (TS).
type ts struct {
	Value      string `xml:"value,attr"`
	NullFlavor string `xml:"nullFlavor,attr"`
}

// pq is a physical quantity (PQ) or the low/high bound of an IVL_PQ.
type pq struct {
	Value      string `xml:"value,attr"`
	Unit       string `xml:"unit,attr"`
	NullFlavor string `xml:"nullFlavor,attr"`
	Inclusive  string `xml:"inclusive,attr"`
}

// ivlTS is an effectiveTime: TS, IVL_TS, PIVL_TS or EIVL_TS, told apart by
// xsi:type and by which children are present.
type ivlTS struct {
	XSIType              string  `xml:"type,attr"`
	Value                string  `xml:"value,attr"`
	NullFlavor           string  `xml:"nullFlavor,attr"`
	Operator             string  `xml:"operator,attr"`
	InstitutionSpecified string  `xml:"institutionSpecified,attr"`
	Low                  *ts     `xml:"low"`
	High                 *ts     `xml:"high"`
	Center               *ts     `xml:"center"`
	Period               *period `xml:"period"`
	Event                *cd     `xml:"event"`
}

// period is the period of a PIVL_TS: a PQ, or an IVL_PQ (every 4 to 6
// hours) with low and high.
type period struct {
	Value string `xml:"value,attr"`
	Unit  string `xml:"unit,attr"`
	Low   *pq    `xml:"low"`
	High  *pq    `xml:"high"`
}

// ivlPQ is a dose or rate: a PQ or an IVL_PQ.
type ivlPQ struct {
	Value      string `xml:"value,attr"`
	Unit       string `xml:"unit,attr"`
	NullFlavor string `xml:"nullFlavor,attr"`
	Low        *pq    `xml:"low"`
	High       *pq    `xml:"high"`
}

// rto is a ratio of quantities (RTO<PQ,PQ>): a maxDoseQuantity.
type rto struct {
	Numerator   *pq `xml:"numerator"`
	Denominator *pq `xml:"denominator"`
}

// anyValue is an observation value of any CDA data type (xsi:type says which).
type anyValue struct {
	XSIType        string `xml:"type,attr"`
	Value          string `xml:"value,attr"`
	Unit           string `xml:"unit,attr"`
	Code           string `xml:"code,attr"`
	CodeSystem     string `xml:"codeSystem,attr"`
	CodeSystemName string `xml:"codeSystemName,attr"`
	DisplayName    string `xml:"displayName,attr"`
	NullFlavor     string `xml:"nullFlavor,attr"`
	Text           string `xml:",chardata"`
	OriginalText   *ed    `xml:"originalText"`
	Translation    []cd   `xml:"translation"`
	Low            *pq    `xml:"low"`
	High           *pq    `xml:"high"`
	Numerator      *pq    `xml:"numerator"`
	Denominator    *pq    `xml:"denominator"`
	Reference      *tel   `xml:"reference"`
}

func (v *anyValue) asCD() *cd {
	return &cd{Code: v.Code, CodeSystem: v.CodeSystem, CodeSystemName: v.CodeSystemName,
		DisplayName: v.DisplayName, NullFlavor: v.NullFlavor, OriginalText: v.OriginalText, Translation: v.Translation}
}

// namePart is one given/family/prefix/suffix.
type namePart struct {
	Qualifier string `xml:"qualifier,attr"`
	Text      string `xml:",chardata"`
}

// pn is a person name (PN); unstructured names are in Text.
type pn struct {
	Use        string     `xml:"use,attr"`
	NullFlavor string     `xml:"nullFlavor,attr"`
	Text       string     `xml:",chardata"`
	Prefix     []namePart `xml:"prefix"`
	Given      []namePart `xml:"given"`
	Family     []namePart `xml:"family"`
	Suffix     []namePart `xml:"suffix"`
	ValidTime  *ivlTS     `xml:"validTime"`
}

// ad is a postal address (AD).
type ad struct {
	Use               string   `xml:"use,attr"`
	NullFlavor        string   `xml:"nullFlavor,attr"`
	StreetAddressLine []string `xml:"streetAddressLine"`
	City              string   `xml:"city"`
	County            string   `xml:"county"`
	State             string   `xml:"state"`
	PostalCode        string   `xml:"postalCode"`
	Country           string   `xml:"country"`
	UseablePeriod     *ivlTS   `xml:"useablePeriod"`
}

// organization is any CDA organization (represented, custodian, provider,
// manufacturer).
type organization struct {
	ID      []ii  `xml:"id"`
	Name    []on  `xml:"name"`
	Telecom []tel `xml:"telecom"`
	Addr    []ad  `xml:"addr"`
	Part    *struct {
		Org *organization `xml:"wholeOrganization"`
	} `xml:"asOrganizationPartOf"`
}

// on is an organization name; it may carry mixed content.
type on struct {
	Text string `xml:",chardata"`
}

// person is an assignedPerson / informant person.
type person struct {
	Name []pn `xml:"name"`
}

// device is an assignedAuthoringDevice.
type device struct {
	ManufacturerModelName string `xml:"manufacturerModelName"`
	SoftwareName          string `xml:"softwareName"`
}

// assigned is assignedAuthor / assignedEntity / assignedCustodian content.
type assigned struct {
	ID                      []ii          `xml:"id"`
	Code                    *cd           `xml:"code"`
	Addr                    []ad          `xml:"addr"`
	Telecom                 []tel         `xml:"telecom"`
	AssignedPerson          *person       `xml:"assignedPerson"`
	AssignedAuthoringDevice *device       `xml:"assignedAuthoringDevice"`
	RepresentedOrganization *organization `xml:"representedOrganization"`
}

// author is a CDA author participation.
type author struct {
	Time           *ts       `xml:"time"`
	AssignedAuthor *assigned `xml:"assignedAuthor"`
}

// performer is a performer participation (header serviceEvent or entry).
type performer struct {
	TypeCode       string    `xml:"typeCode,attr"`
	Time           *ivlTS    `xml:"time"`
	AssignedEntity *assigned `xml:"assignedEntity"`
}

// participant is an entry participant (consumable allergen, location...).
type participant struct {
	TypeCode        string `xml:"typeCode,attr"`
	ParticipantRole *struct {
		ClassCode     string `xml:"classCode,attr"`
		ID            []ii   `xml:"id"`
		Code          *cd    `xml:"code"`
		Addr          []ad   `xml:"addr"`
		Telecom       []tel  `xml:"telecom"`
		PlayingEntity *struct {
			Code *cd  `xml:"code"`
			Name []on `xml:"name"`
		} `xml:"playingEntity"`
	} `xml:"participantRole"`
}

// manufacturedProduct is the consumable/product of a substance
// administration or supply.
type manufacturedProduct struct {
	ID                   []ii `xml:"id"`
	ManufacturedMaterial *struct {
		Code          *cd    `xml:"code"`
		Name          string `xml:"name"`
		LotNumberText string `xml:"lotNumberText"`
	} `xml:"manufacturedMaterial"`
	ManufacturerOrganization *organization `xml:"manufacturerOrganization"`
}

// act is any CDA clinical statement: act, observation, substanceAdministration,
// supply, procedure, encounter or organizer. They share most of their
// structure, so one type keeps the converter simple.
type act struct {
	ClassCode              string           `xml:"classCode,attr"`
	MoodCode               string           `xml:"moodCode,attr"`
	NegationInd            string           `xml:"negationInd,attr"`
	NullFlavor             string           `xml:"nullFlavor,attr"`
	TemplateID             []ii             `xml:"templateId"`
	ID                     []ii             `xml:"id"`
	Code                   *cd              `xml:"code"`
	Text                   *ed              `xml:"text"`
	StatusCode             *cd              `xml:"statusCode"`
	EffectiveTime          []ivlTS          `xml:"effectiveTime"`
	PriorityCode           *cd              `xml:"priorityCode"`
	RepeatNumber           *ivlPQ           `xml:"repeatNumber"`
	ConfidentialityCode    *cd              `xml:"confidentialityCode"`
	Value                  []anyValue       `xml:"value"`
	InterpretationCode     []cd             `xml:"interpretationCode"`
	MethodCode             []cd             `xml:"methodCode"`
	TargetSiteCode         []cd             `xml:"targetSiteCode"`
	RouteCode              *cd              `xml:"routeCode"`
	ApproachSiteCode       []cd             `xml:"approachSiteCode"`
	DoseQuantity           *ivlPQ           `xml:"doseQuantity"`
	RateQuantity           *ivlPQ           `xml:"rateQuantity"`
	MaxDoseQuantity        *rto             `xml:"maxDoseQuantity"`
	AdministrationUnitCode *cd              `xml:"administrationUnitCode"`
	Quantity               *pq              `xml:"quantity"`
	Author                 []author         `xml:"author"`
	Performer              []performer      `xml:"performer"`
	Participant            []participant    `xml:"participant"`
	Consumable             *productHolder   `xml:"consumable"`
	Product                *productHolder   `xml:"product"`
	EntryRelationship      []relationship   `xml:"entryRelationship"`
	Precondition           []precondition   `xml:"precondition"`
	ReferenceRange         []referenceRange `xml:"referenceRange"`
	Component              []relationship   `xml:"component"`
	Subject                *subject         `xml:"subject"`
	// DischargeDispositionCode is an Encounter Activity's (C-CDA R2.1
	// allows the SDTC extension there).
	DischargeDispositionCode *cd `xml:"urn:hl7-org:sdtc dischargeDispositionCode"`
}

// subject is CDA's subject participant on a section or a statement:
// whom its entries are about when that is not the recordTarget (a fetus,
// a relative).
type subject struct {
	RelatedSubject *struct {
		Code *cd `xml:"code"`
	} `xml:"relatedSubject"`
}

// precondition is a condition of a substance administration (4.25, "as
// needed"); its criterion reads as an observation (code, value).
type precondition struct {
	Criterion *act `xml:"criterion"`
}

// productHolder wraps a manufacturedProduct (consumable, product).
type productHolder struct {
	ManufacturedProduct *manufacturedProduct `xml:"manufacturedProduct"`
}

// relationship is an entry, entryRelationship or organizer component: a
// choice of one clinical statement.
type relationship struct {
	TypeCode                string `xml:"typeCode,attr"`
	InversionInd            string `xml:"inversionInd,attr"`
	NegationInd             string `xml:"negationInd,attr"`
	Act                     *act   `xml:"act"`
	Observation             *act   `xml:"observation"`
	SubstanceAdministration *act   `xml:"substanceAdministration"`
	Supply                  *act   `xml:"supply"`
	Procedure               *act   `xml:"procedure"`
	Encounter               *act   `xml:"encounter"`
	Organizer               *act   `xml:"organizer"`
}

// statement returns the clinical statement the relationship holds and its
// element name.
func (r *relationship) statement() (*act, string) {
	switch {
	case r.Act != nil:
		return r.Act, "act"
	case r.Observation != nil:
		return r.Observation, "observation"
	case r.SubstanceAdministration != nil:
		return r.SubstanceAdministration, "substanceAdministration"
	case r.Supply != nil:
		return r.Supply, "supply"
	case r.Procedure != nil:
		return r.Procedure, "procedure"
	case r.Encounter != nil:
		return r.Encounter, "encounter"
	case r.Organizer != nil:
		return r.Organizer, "organizer"
	}
	return nil, ""
}

// referenceRange is an observation reference range.
type referenceRange struct {
	ObservationRange *struct {
		Text               *ed       `xml:"text"`
		Value              *anyValue `xml:"value"`
		InterpretationCode *cd       `xml:"interpretationCode"`
	} `xml:"observationRange"`
}

// valueAttr is an element whose value attribute is all ferry reads of it
// (a BL or an INT).
type valueAttr struct {
	Value string `xml:"value,attr"`
}

// recordTarget is the patient of the document.
type recordTarget struct {
	PatientRole struct {
		ID      []ii  `xml:"id"`
		Addr    []ad  `xml:"addr"`
		Telecom []tel `xml:"telecom"`
		Patient *struct {
			Name                     []pn `xml:"name"`
			AdministrativeGenderCode *cd  `xml:"administrativeGenderCode"`
			BirthTime                *ts  `xml:"birthTime"`
			DeceasedInd              *struct {
				Value string `xml:"value,attr"`
			} `xml:"urn:hl7-org:sdtc deceasedInd"`
			DeceasedTime             *ts        `xml:"urn:hl7-org:sdtc deceasedTime"`
			MultipleBirthInd         *valueAttr `xml:"urn:hl7-org:sdtc multipleBirthInd"`
			MultipleBirthOrderNumber *valueAttr `xml:"urn:hl7-org:sdtc multipleBirthOrderNumber"`
			MaritalStatusCode        *cd        `xml:"maritalStatusCode"`
			RaceCode                 []cd       `xml:"urn:hl7-org:v3 raceCode"`
			SDTCRaceCode             []cd       `xml:"urn:hl7-org:sdtc raceCode"`
			EthnicGroupCode          []cd       `xml:"urn:hl7-org:v3 ethnicGroupCode"`
			SDTCEthnicGroupCode      []cd       `xml:"urn:hl7-org:sdtc ethnicGroupCode"`
			Guardian                 []guardian `xml:"guardian"`
			LanguageCommunication    []struct {
				LanguageCode  *cd `xml:"languageCode"`
				PreferenceInd *struct {
					Value string `xml:"value,attr"`
				} `xml:"preferenceInd"`
			} `xml:"languageCommunication"`
		} `xml:"patient"`
		ProviderOrganization *organization `xml:"providerOrganization"`
	} `xml:"patientRole"`
}

// guardian is a patient's guardian: a person or an organization.
type guardian struct {
	Code                 *cd           `xml:"code"`
	Addr                 []ad          `xml:"addr"`
	Telecom              []tel         `xml:"telecom"`
	GuardianPerson       *person       `xml:"guardianPerson"`
	GuardianOrganization *organization `xml:"guardianOrganization"`
}

// custodian is the organization that keeps the document.
type custodian struct {
	AssignedCustodian struct {
		Org *organization `xml:"representedCustodianOrganization"`
	} `xml:"assignedCustodian"`
}

// legalAuthenticator is the signer of the document.
type legalAuthenticator struct {
	Time           *ts       `xml:"time"`
	AssignedEntity *assigned `xml:"assignedEntity"`
}

// documentationOf holds the service event the document describes.
type documentationOf struct {
	ServiceEvent *struct {
		Code          *cd         `xml:"code"`
		EffectiveTime *ivlTS      `xml:"effectiveTime"`
		Performer     []performer `xml:"performer"`
	} `xml:"serviceEvent"`
}

// relatedDocument links to a parent document this one replaces or appends.
type relatedDocument struct {
	TypeCode       string `xml:"typeCode,attr"`
	ParentDocument *struct {
		ID    []ii `xml:"id"`
		SetID *ii  `xml:"setId"`
	} `xml:"parentDocument"`
}

// componentOf holds the encompassing encounter of the document.
type componentOf struct {
	EncompassingEncounter *struct {
		ID                   []ii   `xml:"id"`
		Code                 *cd    `xml:"code"`
		EffectiveTime        *ivlTS `xml:"effectiveTime"`
		DischargeDisposition *cd    `xml:"dischargeDispositionCode"`
		ResponsibleParty     *struct {
			AssignedEntity *assigned `xml:"assignedEntity"`
		} `xml:"responsibleParty"`
		EncounterParticipant []performer `xml:"encounterParticipant"`
		Location             *struct {
			HealthCareFacility *struct {
				ID       []ii `xml:"id"`
				Code     *cd  `xml:"code"`
				Location *struct {
					Name string `xml:"name"`
					Addr *ad    `xml:"addr"`
				} `xml:"location"`
			} `xml:"healthCareFacility"`
		} `xml:"location"`
	} `xml:"encompassingEncounter"`
}
