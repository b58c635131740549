package sandbox

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
)

// account is a line of /etc/passwd.
type account struct {
	name     string
	uid, gid int
	home     string
}

// userDB reads the local account files. rampart resolves names from the
// files, not through NSS: the files are what the node's image ships, and
// the launcher must not depend on a name service.
type userDB struct {
	passwd, group string
	// rec records the files read (stat(2) before each read).
	rec *recorder
}

func defaultUserDB() userDB { return userDB{passwd: "/etc/passwd", group: "/etc/group"} }

func (db userDB) fields(file string, want int) ([][]string, error) {
	f, err := db.rec.open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Split(line, ":")
		if len(fs) >= want {
			out = append(out, fs)
		}
	}
	return out, sc.Err()
}

// user looks up an account by name or number.
func (db userDB) user(name string) (account, error) {
	rows, err := db.fields(db.passwd, 7)
	if err != nil {
		return account{}, err
	}
	num, numErr := strconv.Atoi(name)
	for _, fs := range rows {
		uid, err1 := strconv.Atoi(fs[2])
		gid, err2 := strconv.Atoi(fs[3])
		if err1 != nil || err2 != nil {
			continue
		}
		if fs[0] == name || (numErr == nil && uid == num) {
			return account{name: fs[0], uid: uid, gid: gid, home: fs[5]}, nil
		}
	}
	if numErr == nil && num >= 0 {
		return account{name: name, uid: num, gid: -1, home: "/"}, nil
	}
	return account{}, fmt.Errorf("user %q not found in %s", name, db.passwd)
}

// groupID looks up a group by name or number.
func (db userDB) groupID(name string) (int, error) {
	rows, err := db.fields(db.group, 3)
	if err != nil {
		return 0, err
	}
	for _, fs := range rows {
		if fs[0] == name {
			if gid, err := strconv.Atoi(fs[2]); err == nil {
				return gid, nil
			}
		}
	}
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	return 0, fmt.Errorf("group %q not found in %s", name, db.group)
}

// groupName returns the name of group gid, or its number.
func (db userDB) groupName(gid int) string {
	rows, _ := db.fields(db.group, 3)
	for _, fs := range rows {
		if fs[2] == strconv.Itoa(gid) {
			return fs[0]
		}
	}
	return strconv.Itoa(gid)
}

// userName returns the name of uid, or its number.
func (db userDB) userName(uid int) string {
	rows, _ := db.fields(db.passwd, 7)
	for _, fs := range rows {
		if fs[2] == strconv.Itoa(uid) {
			return fs[0]
		}
	}
	return strconv.Itoa(uid)
}
