package gitlabtest

// SetAuthor makes username the author of merge request iid of project.
func (s *Server) SetAuthor(id int64, path string, iid int64, username string) {
	s.change(id, path, iid, func(mr *mergeRequest) { mr.author, mr.updatedAt = username, s.tick() })
}

// SetDraft marks merge request iid of project as a draft, or ready; a
// change leaves GitLab's system note ("marked this merge request as
// **draft**" or "**ready**"), by Reviewer.
func (s *Server) SetDraft(id int64, path string, iid int64, draft bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mr := s.mr(id, path, iid)
	if mr.draft != draft {
		word := "ready"
		if draft {
			word = "draft"
		}
		s.addNote(mr, Reviewer, "marked this merge request as **"+word+"**")
		mr.notes[len(mr.notes)-1].System = true
	}
	mr.draft = draft
	mr.updatedAt = s.tick()
}

// authorAndDraft writes them into a merge request's answer, in GitLab's
// shape: draft, and its deprecated twin work_in_progress, which GitLab
// still sends; author a user object.
func (mr *mergeRequest) authorAndDraft(out map[string]any) {
	out["draft"], out["work_in_progress"] = mr.draft, mr.draft
	if mr.author == "" {
		return
	}
	author, _ := out["author"].(map[string]any)
	if author == nil {
		author = map[string]any{}
		out["author"] = author
	}
	author["username"], author["name"] = mr.author, mr.author
	author["web_url"] = "https://gitlab.example.com/" + mr.author
}
