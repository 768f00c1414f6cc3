package audit

import (
	"encoding/xml"
	"testing"
	"time"
)

// TestBackupNamesDestinationMedia: a backup is a Data Export to media,
// and DICOM PS3.15 A.5.3.4 has one "Destination Media (1)" participant:
// UserIsRequestor "Shall be FALSE", RoleIDCode (110154, DCM, "Destination
// Media"), MediaIdentifier and MediaType (DCID 405) mandatory. The
// archive (file:PATH) is that participant, typed 110037 URI.
func TestBackupNamesDestinationMedia(t *testing.T) {
	ev := OperatorEvent(OperatorAction{Kind: OpBackup, Operator: Operator{UserID: "root"}, Gateway: "gw", GatewayAddr: "host",
		ExchangeURL: "file:/var/backups/ferry.tar.gz", Object: "/var/lib/ferry", ObjectType: IDDataFolder, Time: time.Now()})
	ev.AuditSourceID = "gw"
	b, err := ev.XML()
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Participants []struct {
			UserID    string `xml:"UserID,attr"`
			Requestor bool   `xml:"UserIsRequestor,attr"`
			Role      Code   `xml:"RoleIDCode"`
			Media     *struct {
				Type Code `xml:"MediaType"`
			} `xml:"MediaIdentifier"`
		} `xml:"ActiveParticipant"`
	}
	if err := xml.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, p := range m.Participants {
		if p.UserID != "file:/var/backups/ferry.tar.gz" {
			continue
		}
		found = true
		if p.Requestor || p.Role.Code != "110154" || p.Role.System != "DCM" || p.Media == nil || p.Media.Type.Code != "110037" || p.Media.Type.System != "DCM" {
			t.Errorf("the archive's participant is %+v, want Destination Media (110154), not the requestor, MediaType 110037 URI\n%s", p, b)
		}
	}
	if !found {
		t.Errorf("no participant names the archive:\n%s", b)
	}
	// The held bundle released to the exchange is no media export.
	rel := OperatorEvent(OperatorAction{Kind: OpHeldRelease, Operator: Operator{UserID: "root"}, Gateway: "gw",
		ExchangeURL: "https://hie.example/fhir", Object: "01HELD", ObjectType: IDHeldBundle, Time: time.Now()})
	for _, p := range rel.Participants {
		if p.Media.Code != "" || p.Role == RoleDestinationMedia {
			t.Errorf("a held release names media: %+v", p)
		}
	}
}
