package console

import (
	"net/http"

	"github.com/kylin-tools/metastore/cmd/metastore/internal/api"
	"github.com/kylin-tools/metastore/scope"
)

// Kyligence Enterprise's backup REST paths, so that KE's scripts (and its
// web UI's calls) keep working against metastore serve:
//
//	POST /kylin/api/metastore/backup            the system
//	POST /kylin/api/metastore/backup?cube=NAME  one cube
//	POST /kylin/api/projects/{project}/backup   one project
//
// They answer KE's envelope: {"code": "000", "data": WHERE, "msg": ""} with
// WHERE naming the repository and the snapshot, or on failure another code
// and the message.

// keEnvelope is Kyligence's answer.
type keEnvelope struct {
	Code string `json:"code"`
	Data any    `json:"data"`
	Msg  string `json:"msg"`
}

const (
	keSuccess = "000"
	keFailure = "999" // KylinException's code for a failed request
)

func (c *Console) keSystemOrCubeBackup(w http.ResponseWriter, r *http.Request) {
	s := scope.SystemScope()
	if r.URL.Query().Has("cube") {
		var err error
		if s, err = api.NamedScope(scope.CubeScope, r.URL.Query().Get("cube")); err != nil {
			c.keFail(w, err)
			return
		}
	}
	c.keBackup(w, r, s)
}

func (c *Console) keProjectBackup(w http.ResponseWriter, r *http.Request) {
	s, err := api.NamedScope(scope.ProjectScope, r.PathValue("project"))
	if err != nil {
		c.keFail(w, err)
		return
	}
	c.keBackup(w, r, s)
}

func (c *Console) keBackup(w http.ResponseWriter, r *http.Request, s scope.Scope) {
	c.logf("Kyligence REST backup of %s", s)
	b, err := c.env.Backup(r.Context(), api.BackupRequest{Scope: s}, nil)
	if err != nil {
		c.keFail(w, err)
		return
	}
	res := b.Result
	writeJSON(w, http.StatusOK, keEnvelope{Code: keSuccess, Data: KylinLocation(res.Repository, res.Snapshot.ID.Short()), Msg: ""})
}

// KylinLocation is the "data" of a successful Kyligence backup call: where
// the backup is stored, as KE's UI shows it after "Metadata backup
// successfully: ".
func KylinLocation(repository, snapshot string) string {
	return repository + " (snapshot " + snapshot + ")"
}

func (c *Console) keFail(w http.ResponseWriter, err error) {
	status := httpStatus(err)
	if status == http.StatusNotFound || status == http.StatusConflict {
		status = http.StatusBadRequest // KE answers a bad project or cube with 400
	}
	c.logf("Kyligence REST backup failed: %v", err)
	writeJSON(w, status, keEnvelope{Code: keFailure, Data: nil, Msg: c.errorText(err)})
}
