package report

import (
	"cmp"
	"encoding/json"
	"html/template"
	"io"
	"slices"
	"strings"

	"github.com/rampart-sec/rampart/forensics"
)

// Layout geometry (SVG user units).
const (
	nodeW   = 200.0
	nodeH   = 38.0
	rankGap = 70.0
	rowGap  = 18.0
	margin  = 30.0
)

// placed is a node's position in the drawing.
type placed struct {
	ID   uint32  `json:"id"`
	X    float64 `json:"x"`
	Y    float64 `json:"y"`
	Rank int     `json:"rank"`
}

type layoutResult struct {
	Nodes  []placed `json:"nodes"`
	Width  float64  `json:"width"`
	Height float64  `json:"height"`
}

// layout places the view's nodes in layers from left to right: a node's
// layer is one more than the latest layer of the nodes with edges into it
// (edges taken in time order, so cycles do not matter), and nodes in a
// layer are ordered by the mean position of their neighbours.
func layout(v forensics.View) layoutResult {
	idx := map[uint32]int{}
	for i, n := range v.Nodes {
		idx[n.ID] = i
	}
	rank := make([]int, len(v.Nodes))
	edges := slices.Clone(v.Edges)
	slices.SortStableFunc(edges, func(a, b forensics.ViewEdge) int { return cmp.Compare(a.Time, b.Time) })
	limit := len(v.Nodes)
	for range 2 {
		for _, e := range edges {
			s, d := idx[e.Src], idx[e.Dst]
			if rank[d] <= rank[s] && rank[s]+1 < limit {
				rank[d] = rank[s] + 1
			}
		}
	}
	// compact: ranks in use, in order
	used := map[int]bool{}
	for _, r := range rank {
		used[r] = true
	}
	var ranks []int
	for r := range used {
		ranks = append(ranks, r)
	}
	slices.Sort(ranks)
	remap := map[int]int{}
	for i, r := range ranks {
		remap[r] = i
	}
	layers := make([][]int, len(ranks))
	for i := range v.Nodes {
		rank[i] = remap[rank[i]]
		layers[rank[i]] = append(layers[rank[i]], i)
	}
	pos := make([]float64, len(v.Nodes))
	for _, l := range layers {
		for j, n := range l {
			pos[n] = float64(j)
		}
	}
	nbrs := make([][]int, len(v.Nodes))
	for _, e := range v.Edges {
		s, d := idx[e.Src], idx[e.Dst]
		nbrs[s] = append(nbrs[s], d)
		nbrs[d] = append(nbrs[d], s)
	}
	for range 4 {
		for _, l := range layers {
			bary := map[int]float64{}
			for _, n := range l {
				sum, cnt := 0.0, 0
				for _, m := range nbrs[n] {
					if rank[m] != rank[n] {
						sum += pos[m]
						cnt++
					}
				}
				if cnt > 0 {
					bary[n] = sum / float64(cnt)
				} else {
					bary[n] = pos[n]
				}
			}
			slices.SortStableFunc(l, func(a, b int) int { return cmp.Compare(bary[a], bary[b]) })
			for j, n := range l {
				pos[n] = float64(j)
			}
		}
	}
	var out layoutResult
	maxRows := 0
	for _, l := range layers {
		maxRows = max(maxRows, len(l))
	}
	for r, l := range layers {
		// centre short layers
		off := float64(maxRows-len(l)) * (nodeH + rowGap) / 2
		for j, n := range l {
			out.Nodes = append(out.Nodes, placed{ID: v.Nodes[n].ID, Rank: r,
				X: margin + float64(r)*(nodeW+rankGap), Y: margin + off + float64(j)*(nodeH+rowGap)})
		}
	}
	out.Width = 2*margin + float64(len(layers))*(nodeW+rankGap) - rankGap
	out.Height = 2*margin + float64(maxRows)*(nodeH+rowGap) - rowGap
	if len(layers) == 0 {
		out.Width, out.Height = 2*margin, 2*margin
	}
	return out
}

// HTML writes a self-contained page: the report's data as JSON and a
// script that draws the graph (SVG), the findings, the countermeasures and
// the timeline. It loads nothing from the network. Without JavaScript it
// shows the terminal summary.
func HTML(w io.Writer, rep *forensics.Report) error {
	data, err := json.Marshal(struct {
		Report *forensics.Report `json:"report"`
		Layout layoutResult      `json:"layout"`
	}{rep, layout(rep.View)})
	if err != nil {
		return err
	}
	var text strings.Builder
	if err := Text(&text, rep); err != nil {
		return err
	}
	title := "Investigation: " + rep.Query.Direction + " from " + rep.Query.Start
	if rep.Warning != "" {
		title = "UNVERIFIED — " + title
	}
	return pageTemplate.Execute(w, map[string]any{
		"Title": title,
		"Data":  template.JS(data), // encoding/json escapes <, > and & in strings
		"Text":  text.String(),
		"CSS":   template.CSS(pageCSS),
		"JS":    template.JS(pageJS),
	})
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>{{.Title}}</title>
<style>{{.CSS}}</style>
</head>
<body>
<header><h1>rampart investigate</h1><div id="query"></div></header>
<div id="warning" class="warning" hidden></div>
<noscript><pre>{{.Text}}</pre></noscript>
<main>
<section id="summary"></section>
<section><h2>Provenance graph</h2>
<div class="legend"><span class="lg start">start</span><span class="lg entry">entry point</span><span class="lg secret">secret</span><span class="lg written">modified</span><span class="lg endpoint">endpoint</span><span class="lg process">process</span>
<span class="le rc">root cause</span><span class="le im">impact</span></div>
<div id="graph" class="graph"></div><div id="details" class="details">Click a node for its details.</div></section>
<section id="findings"><h2>Findings</h2></section>
<section id="bounds-section"><h2>Bounded by the policy</h2><div id="bounds"></div></section>
<section><h2>Countermeasures</h2><ol id="countermeasures"></ol></section>
<section><h2>Timeline</h2><input id="filter" type="search" placeholder="filter the timeline"><table id="timeline"><thead><tr><th>time</th><th>phase</th><th>from</th><th>event</th><th>to</th></tr></thead><tbody></tbody></table></section>
<section><h2>Input</h2><div id="inputs"></div></section>
</main>
<script type="application/json" id="data">{{.Data}}</script>
<script>{{.JS}}</script>
</body>
</html>
`))

const pageCSS = `
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}
header{background:#1d3557;color:#fff;padding:10px 20px}header h1{margin:0;font-size:20px}#query{font-size:14px;opacity:.9}
main{padding:10px 20px}section{background:#fff;border:1px solid #ddd;border-radius:6px;margin:12px 0;padding:10px 16px}
h2{font-size:17px;margin:4px 0 10px}h3{font-size:14px;margin:10px 0 4px}
.warning{background:#d62828;color:#fff;font-weight:bold;padding:10px 20px;font-size:15px}
.graph{overflow:auto;max-height:640px;border:1px solid #eee}.details{font-family:monospace;white-space:pre-wrap;font-size:12px;background:#f4f4f4;padding:6px;margin-top:6px;min-height:2em}
.node rect{stroke:#444;stroke-width:1}.node text{font-size:11px;font-family:monospace;pointer-events:none}
.node{cursor:pointer}.node.sel rect{stroke:#000;stroke-width:3}
.role-start rect{fill:#ffd166}.role-entry rect{fill:#ef476f}.role-secret rect{fill:#f4a261}.role-written rect{fill:#a8dadc}.role-endpoint rect{fill:#cdb4db}.role-process rect{fill:#e9ecef}.role-other rect{fill:#fff}
.edge{fill:none;stroke-width:1.4}.edge.root-cause{stroke:#d62828}.edge.impact{stroke:#1d3557}.edge.hl{stroke-width:3.5}
.elabel{font-size:9px;font-family:monospace;fill:#555}
.legend{font-size:12px;margin-bottom:6px}.lg{display:inline-block;padding:1px 6px;margin-right:6px;border:1px solid #444;border-radius:3px}
.lg.start{background:#ffd166}.lg.entry{background:#ef476f}.lg.secret{background:#f4a261}.lg.written{background:#a8dadc}.lg.endpoint{background:#cdb4db}.lg.process{background:#e9ecef}
.le{display:inline-block;margin-right:8px}.le.rc{color:#d62828}.le.im{color:#1d3557}.le:before{content:"\2192 "}
table{border-collapse:collapse;font-size:12px;width:100%}td,th{border-bottom:1px solid #eee;padding:2px 6px;text-align:left;font-family:monospace}
#filter{margin-bottom:6px;width:300px}.finding{margin:2px 0;font-size:13px}.tag{font-size:11px;background:#eee;border-radius:3px;padding:0 4px;margin-left:4px}
.secret-f{color:#b5179e;font-weight:bold}.chain{font-family:monospace;font-size:12px;margin-left:18px}
ol#countermeasures li{margin:3px 0;font-size:14px}.act{font-weight:bold;text-transform:uppercase;margin-right:6px}
.stat{display:inline-block;margin-right:18px;font-size:14px}.stat b{font-size:18px}
`

const pageJS = `
(function(){
"use strict";
var D = JSON.parse(document.getElementById("data").textContent);
var R = D.report, L = D.layout;
var NS = "http://www.w3.org/2000/svg";
function el(tag, attrs, text){var e=document.createElement(tag);for(var k in attrs){e.setAttribute(k,attrs[k]);}if(text!==undefined){e.textContent=text;}return e;}
function sv(tag, attrs){var e=document.createElementNS(NS,tag);for(var k in attrs){e.setAttribute(k,attrs[k]);}return e;}
function ts(t){return t?String(t).replace("T"," ").replace("Z","").slice(0,23):"-";}
function list(a){return a&&a.length?a.join(", "):"none";}

document.getElementById("query").textContent = R.query.direction+" from "+R.query.start+(R.query.at&&R.query.at.slice(0,4)!=="0001"?" at "+ts(R.query.at):"");
if (R.warning){var w=document.getElementById("warning");w.hidden=false;w.textContent="WARNING: "+R.warning;}

// summary
var sum=document.getElementById("summary");
sum.appendChild(el("h2",{},"Summary"));
function stat(label,val){var s=el("span",{"class":"stat"});s.appendChild(el("b",{},String(val)));s.appendChild(document.createTextNode(" "+label));sum.appendChild(s);}
var rc=R.root_cause, im=R.impact;
if(rc){stat("entry points",rc.entry_points_total);}
if(im){stat("processes tainted",im.processes_total);stat("files modified",im.files_written_total);stat("endpoints",im.endpoints_total);stat("secrets read",im.secrets_read?im.secrets_read.length:0);}
stat("countermeasures",R.countermeasures?R.countermeasures.length:0);
var gi=R.graph;sum.appendChild(el("p",{"class":"finding"},"Graph: "+gi.events+" events, "+gi.nodes+" nodes, "+gi.edges+" edges ("+gi.merged+" merged by causality-preserving reduction, "+gi.filtered+" filtered); input "+ts(gi.from)+" to "+ts(gi.to)+"."));
if(rc&&rc.compromised_compartments&&rc.compromised_compartments.length){sum.appendChild(el("p",{"class":"finding"},"Compromised compartment(s): "+rc.compromised_compartments.join(", ")));}
(R.notes||[]).forEach(function(n){sum.appendChild(el("p",{"class":"finding"},"Note: "+n));});

// graph
var nodes={};(R.view.nodes||[]).forEach(function(n){nodes[n.id]=n;});
var pos={};(L.nodes||[]).forEach(function(p){pos[p.id]=p;});
var W=200,H=38;
var GW=Math.max(L.width,300),GH=Math.max(L.height,80);
var svg=sv("svg",{width:GW,height:GH,viewBox:"0 0 "+GW+" "+GH,id:"graph-svg"});
// a graph up to twice the page's width is scaled to fit; a larger one scrolls
if(GW<=2*document.getElementById("graph").clientWidth){svg.setAttribute("width","100%");svg.removeAttribute("height");}
var defs=sv("defs",{});
[["rc","#d62828"],["im","#1d3557"]].forEach(function(m){var mk=sv("marker",{id:"arrow-"+m[0],viewBox:"0 0 10 10",refX:"10",refY:"5",markerWidth:"7",markerHeight:"7",orient:"auto-start-reverse"});mk.appendChild(sv("path",{d:"M 0 0 L 10 5 L 0 10 z",fill:m[1]}));defs.appendChild(mk);});
svg.appendChild(defs);
var edgeEls=[];
(R.view.edges||[]).forEach(function(e){
  var a=pos[e.src],b=pos[e.dst];if(!a||!b){return;}
  var x1=a.x+W,y1=a.y+H/2,x2=b.x,y2=b.y+H/2,d;
  if(b.rank>a.rank){var mx=(x1+x2)/2;d="M"+x1+" "+y1+" C"+mx+" "+y1+" "+mx+" "+y2+" "+x2+" "+y2;}
  else{x1=a.x+W/2;y1=a.y;x2=b.x+W/2;y2=b.y;var top=Math.min(y1,y2)-40;d="M"+x1+" "+y1+" C"+x1+" "+top+" "+x2+" "+top+" "+x2+" "+y2;}
  var cls=e.phase==="root-cause"?"rc":"im";
  var p=sv("path",{d:d,"class":"edge "+e.phase,"marker-end":"url(#arrow-"+cls+")","data-src":e.src,"data-dst":e.dst});
  var t=sv("title",{});t.textContent=e.kind+(e.count>1?" ×"+e.count:"")+" at "+ts(e.time);p.appendChild(t);
  svg.appendChild(p);edgeEls.push(p);
  var lx=(a.x+W+b.x)/2,ly=(y1+y2)/2-3;
  if(b.rank>a.rank){var lb=sv("text",{x:lx,y:ly,"class":"elabel","text-anchor":"middle"});lb.textContent=e.kind+(e.count>1?" ×"+e.count:"");svg.appendChild(lb);}
});
var det=document.getElementById("details"),selected=null;
(L.nodes||[]).forEach(function(p){
  var n=nodes[p.id];if(!n){return;}
  var g=sv("g",{"class":"node role-"+n.role,"data-id":n.id,"data-kind":n.kind,transform:"translate("+p.x+","+p.y+")"});
  var rx=n.kind==="process"?10:(n.kind==="endpoint"?18:2);
  g.appendChild(sv("rect",{width:W,height:H,rx:rx,ry:rx}));
  var lab=n.label.length>30?"…"+n.label.slice(-29):n.label;
  var t1=sv("text",{x:6,y:15});t1.textContent=lab;g.appendChild(t1);
  var t2=sv("text",{x:6,y:30,fill:"#444"});t2.textContent=n.kind+(n.compartment?" · "+n.compartment:"")+(n.role!=="process"&&n.role!=="other"?" · "+n.role:"");g.appendChild(t2);
  var tt=sv("title",{});tt.textContent=n.title||n.label;g.appendChild(tt);
  g.addEventListener("click",function(){
    if(selected){selected.classList.remove("sel");}selected=g;g.classList.add("sel");
    det.textContent=n.title||n.label;
    edgeEls.forEach(function(pe){var on=pe.getAttribute("data-src")==String(n.id)||pe.getAttribute("data-dst")==String(n.id);pe.classList.toggle("hl",on);});
  });
  svg.appendChild(g);
});
document.getElementById("graph").appendChild(svg);
if(R.view.truncated){document.getElementById("graph").appendChild(el("p",{"class":"finding"},"The view is cut to the most relevant nodes; --json has everything."));}

// findings
var F=document.getElementById("findings");
function finding(parent,cls,text){var p=el("div",{"class":"finding "+(cls||"")},text);parent.appendChild(p);return p;}
if(rc){
  F.appendChild(el("h3",{},"Root cause: entry points"));
  if(!rc.entry_points||!rc.entry_points.length){finding(F,"","No entry point found: the start's past lies outside the input.");}
  (rc.entry_points||[]).forEach(function(ep){
    var f=finding(F,"entry-point",ep.kind+": "+ep.detail+" ("+ts(ep.time)+")");f.setAttribute("data-kind",ep.kind);
    var c=el("div",{"class":"chain"});(ep.chain||[]).forEach(function(s){c.appendChild(el("div",{},ts(s.time)+"  "+s.from+" -"+s.kind+"-> "+s.to+(s.inferred?" (inferred)":"")));});F.appendChild(c);
  });
  (rc.entry_groups||[]).slice(0,50).forEach(function(g){finding(F,"entry-group","and "+g.count+" more: "+g.kind+" into "+g.into+", "+ts(g.first)+" to "+ts(g.last)+" (e.g. "+g.sample.join(", ")+")");});
}
if(im){
  F.appendChild(el("h3",{},"Impact"));
  finding(F,"","Compartments touched: "+list(im.compartments)+"; tainted processes: "+im.processes_total);
  function capped(a,total,what){a=a||[];if(total>200){finding(F,"","(the first 200 of "+total+" "+what+"; all in --json)");}return a.slice(0,200);}
  capped(im.processes_started,im.processes_started_total,"processes started").forEach(function(s){finding(F,"started","started "+s.process.name+" by "+s.by+" ("+s.how+") at "+ts(s.time)+(s.command_line?": "+s.command_line:""));});
  capped(im.files_written,im.files_written_total,"files written").forEach(function(f){var x=finding(F,"file-written","modified "+f.path+" ("+f.actions.join("+")+", "+f.bytes+" bytes) by "+f.by.join(", ")+" at "+ts(f.first));if(f.resource){x.appendChild(el("span",{"class":"tag"},f.resource));}if(f.sealed){x.appendChild(el("span",{"class":"tag"},"SEALED ROOT"));}});
  capped(im.endpoints,im.endpoints_total,"endpoints").forEach(function(e){finding(F,"endpoint",e.direction+" "+e.address+": "+e.bytes_sent+" bytes sent by "+e.by.join(", ")+" from "+ts(e.first)+(e.channel?" [channel "+e.channel+"]":""));});
  (im.secrets_read||[]).forEach(function(s){finding(F,"secret-f secret","SECRET "+s.path+(s.resource?" ["+s.resource+"]":"")+" read by "+s.by.join(", ")+(s.before_compromise?" before compromise (in memory)":" after compromise")+" at "+ts(s.time));});
  var sr=im.sealed_root;finding(F,"sealed","Sealed root filesystem: "+(!sr.known?"unknown (no rootfs label)":sr.touched?"WRITTEN: "+list(sr.writes):(sr.attempts&&sr.attempts.length?"refused attempts: "+list(sr.attempts):"untouched")));
}
var B=document.getElementById("bounds");
if(!R.bounds||!R.bounds.length){document.getElementById("bounds-section").appendChild(el("p",{"class":"finding"},"No policy given, or no compartment compromised."));}
(R.bounds||[]).forEach(function(b){
  var d=el("div",{"class":"bound","data-compartment":b.compartment});d.appendChild(el("h3",{},b.compartment+(b.tier?" ("+b.tier+")":"")));
  finding(d,"reached","reached: "+list(b.reached));finding(d,"could","could still reach: "+list(b.could_reach));finding(d,"cannot","cannot reach: "+list(b.cannot_reach));
  if(b.beyond_policy&&b.beyond_policy.length){finding(d,"secret-f","BEYOND THE POLICY: "+list(b.beyond_policy));}
  B.appendChild(d);
});

// countermeasures
var C=document.getElementById("countermeasures");
(R.countermeasures||[]).forEach(function(c){var li=el("li",{"class":"countermeasure","data-action":c.action});li.appendChild(el("span",{"class":"act"},c.action));li.appendChild(document.createTextNode(c.target+" — "+c.reason));C.appendChild(li);});
if(!R.countermeasures||!R.countermeasures.length){C.appendChild(el("li",{},"none derived"));}

// timeline
var TB=document.querySelector("#timeline tbody");
(R.timeline||[]).forEach(function(t){var tr=el("tr",{"class":"tl "+t.phase});[ts(t.time),t.phase,t.from,t.kind+(t.count>1?" ×"+t.count:"")+(t.bytes?" ("+t.bytes+" B)":""),t.to].forEach(function(v){tr.appendChild(el("td",{},v));});TB.appendChild(tr);});
document.getElementById("filter").addEventListener("input",function(ev){var q=ev.target.value.toLowerCase();Array.prototype.forEach.call(TB.rows,function(r){r.hidden=q&&r.textContent.toLowerCase().indexOf(q)<0;});});

// inputs
var I=document.getElementById("inputs");
(R.inputs||[]).forEach(function(i){finding(I,"",i.kind+" "+i.path+(i.verified===true?" (verified)":i.verified===false?" (NOT VERIFIED"+(i.problem?": "+i.problem:"")+")":"")+(i.events?", "+i.events+" events":"")+(i.lost_events?", "+i.lost_events+" lost":""));});
(R.filtered||[]).forEach(function(f){if(f.edges){finding(I,"","filter "+f.filter+": "+f.edges+" edges of "+f.objects+" objects dropped"+(f.top?" (e.g. "+f.top.slice(0,3).map(function(o){return o.name;}).join(", ")+")":""));}});
document.body.setAttribute("data-rendered","ok");
})();
`
